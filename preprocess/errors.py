"""The one exception media code raises; the server renders it as a 400."""


class InvalidMedia(ValueError):
    """Media that cannot be used, with a message saying what to fix and the part it is in."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
