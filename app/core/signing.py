"""Signed links sent to customers (rating, survey and broadcast tracked links): one way to set
up their serializers, each kind of link under its own salt so a token of one kind never opens
another."""

from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer


def serializer(secret_key, salt, timed=True):
    """URL-safe signing with the app's secret key; ``timed`` tokens carry their age, so links can
    expire (broadcast tracked links are not timed: links already sent must keep working)."""
    return (URLSafeTimedSerializer if timed else URLSafeSerializer)(secret_key, salt=salt)
