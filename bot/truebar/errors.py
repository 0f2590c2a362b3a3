"""One exception per failure a caller must handle differently."""


class TruebarError(Exception):
    """Base class for every Truebar failure."""


class AuthError(TruebarError):
    """Credentials were rejected or no valid token could be obtained."""


class AuthUnavailable(AuthError):
    """The token endpoint could not be reached or answered with a server error."""


class ConfigRejected(TruebarError):
    """The server refused the session configuration (e.g. an unknown or forbidden ASR tag)."""


class ServerError(TruebarError):
    """The server reported an ERROR during the session."""


class ConnectionLost(TruebarError):
    """The connection closed or failed before the session FINISHED."""


class TruebarTimeout(TruebarError):
    """The server did not answer in time (handshake, silence or whole-session limit)."""
