"""Customers (客户), the units they live in, their tags and their one timeline."""
