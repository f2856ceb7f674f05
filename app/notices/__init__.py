"""Notices (通知): templates, the staff inbox, the outbox and its senders, broadcasts and residents' notices."""
