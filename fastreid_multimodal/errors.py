"""Errors a user can fix: the command line prints their message alone, without a traceback."""


class UserError(Exception):
    """Bad input (config, file, data set) with a message that says what was expected."""


class ConfigError(UserError, KeyError):
    """A config file, key or value is wrong."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(UserError, RuntimeError):
    """A data set is not where FASTREID_DATASETS says it should be."""


class DataFormatError(UserError, ValueError):
    """A data file (captions, attributes) is not in the documented format; names file and line."""
