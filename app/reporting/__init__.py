"""Dashboards, reports and staff performance for managers."""
