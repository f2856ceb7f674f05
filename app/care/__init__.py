"""Customer care (客户关怀): greetings, contracts, renovations and surveys."""
