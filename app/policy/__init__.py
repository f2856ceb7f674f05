"""Who is acting and what they may see and do: one place that pages, API, exports, jobs and CLI ask."""
