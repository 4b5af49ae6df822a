"""The one exception the datasets raise for bad input data."""


class DatasetError(ValueError):
    """Bad dataset input (missing/empty folder, unreadable image, size or count mismatch).

    The message is one line that names the file or folder and says what to fix.
    """
