"""The generic FAB layer: model views and APIs built from the data model, their filters, fields, search, batch edit and exports."""
