"""The one exception type users see: a problem with their input, stated in one line with its fix."""


class UserError(Exception):
    """Bad input (unknown task, missing or corrupt file, ...). Pipelines print it as one line and exit 2."""
