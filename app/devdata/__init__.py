"""Demo data and generated data sets (crm demo, crm generate)."""
