"""Domain errors: raised by domain functions with a message fit to show a user."""


class DomainError(Exception):
    """A rule refused the change. ``field`` names the form field to attach the message to."""

    status = 422

    def __init__(self, message, field=None):
        super().__init__(str(message))
        self.message = message
        self.field = field

    def __str__(self):
        return str(self.message)


class DeleteRefused(DomainError):
    status = 409


class NotAllowed(DomainError):
    status = 403
