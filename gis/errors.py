"""One exception hierarchy: an HTTP status, a stable code and a user message in French."""

from __future__ import annotations


class UrbasigError(Exception):
    """Base of every error the project raises on purpose."""

    status = 500
    code = "erreur-interne"
    retry_after_s: int | None = None  # sent as Retry-After (503: when to come back)

    def __init__(self, message: str, *, detail: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, object]:
        """The error as the JSON body the API returns."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body


class ConfigError(UrbasigError):
    """A setting is missing or wrong."""

    code = "configuration"


class InputError(UrbasigError):
    """The caller sent something unusable."""

    status = 400
    code = "entree-invalide"


class NotFound(UrbasigError):
    """What was asked for does not exist."""

    status = 404
    code = "introuvable"


class Conflict(UrbasigError):
    """The request contradicts what is stored (e.g. a plan version that already has zones)."""

    status = 409
    code = "conflit"


class CRSError(InputError):
    """A CRS is missing, unknown or does not match the coordinates."""

    code = "crs"


class GeometryError(InputError):
    """A geometry is empty, invalid or of the wrong kind."""

    code = "geometrie"


class FileFormatError(InputError):
    """A file cannot be read (truncated, unknown format, unknown layer, bad mapping)."""

    code = "fichier"


class LandTooLarge(InputError):
    """A land larger than a computation on it is bounded to (the buildable envelope's area and vertex caps)."""

    code = "terrain-trop-grand"


class LandRefError(InputError):
    """A land reference cannot be parsed."""

    code = "reference-fonciere"


class Unauthorized(UrbasigError):
    """Not signed in, or wrong credentials."""

    status = 401
    code = "non-authentifie"


class Forbidden(UrbasigError):
    """Signed in, but this role may not do that."""

    status = 403
    code = "interdit"


class MethodNotAllowed(UrbasigError):
    """This address does not answer to this HTTP method."""

    status = 405
    code = "methode-non-permise"


class PayloadTooLarge(UrbasigError):
    """The request body is larger than the server accepts."""

    status = 413
    code = "trop-volumineux"


class TooManyRequests(UrbasigError):
    """The client asked too often; `retry_after_s`: when its window ends (sent as Retry-After)."""

    status = 429
    code = "trop-de-requetes"

    def __init__(self, message: str, *, retry_after_s: int | None = None, detail: object | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after_s = retry_after_s


class DatabaseUnavailable(UrbasigError):
    """The database cannot be reached."""

    status = 503
    code = "base-indisponible"
    retry_after_s = 5


class DatabaseTimeout(DatabaseUnavailable):
    """The database did not answer within the statement time limit."""

    code = "delai-depasse"


class RequestTimeout(UrbasigError):
    """The request used up its time budget (answered before the server's worker timeout kills it)."""

    status = 503
    code = "temps-depasse"
    retry_after_s = 10

    def __init__(self, message: str = "la demande a dépassé le temps de traitement permis : réessayez plus tard, ou "
                 "réduisez-la (terrain plus petit, moins de lots ou de sommets)", *, detail: object | None = None) -> None:
        # a default message: the watchdog raises the class itself in the request's thread
        super().__init__(message, detail=detail)
