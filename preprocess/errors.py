"""The exceptions media code raises; the server renders them as OpenAI errors."""


class InvalidMedia(ValueError):
    """Media that cannot be used (400), with a message saying what to fix and where."""

    status = 400

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class MediaTooLarge(InvalidMedia):
    """Media over a size limit (413): fewer pixels, seconds or bytes would do."""

    status = 413
