"""The parts of the data model, one module per domain; import them from app.models."""
