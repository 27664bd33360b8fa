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


def log_to_files_only(message, exc_info):
    """The traceback of a user error goes to log.txt, not to the console (one error line there)."""
    import logging
    import sys
    logger = logging.getLogger("fastreid")  # FastReID's setup_logger puts the handlers there
    record = logger.makeRecord("fastreid.multimodal", logging.DEBUG, __file__, 0, message, (), exc_info)
    for handler in logger.handlers:
        if getattr(handler, "stream", None) not in (sys.stdout, sys.stderr):
            handler.handle(record)


def exit_with_error_line(exc_info, hard=True):
    """Print ``error: <message>`` alone, the traceback to log files only, and leave with exit code 2.
    ``hard``: through os._exit, for a process whose trainer's data-loader prefetch thread may be
    inside a torch op (tearing the interpreter down under it aborts: "terminate called ...", -6)."""
    import logging
    import os
    import sys
    log_to_files_only("user error", exc_info)
    print(f"error: {exc_info[1]}", file=sys.stderr)
    if not hard:
        sys.exit(2)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(2)


class _TracebackOnlyInFiles:
    """Logging filter for fastreid's train loop, which logs every exception with its traceback
    before re-raising it: a UserError's message is printed once, by whoever reports it."""

    @staticmethod
    def filter(record):
        if record.exc_info and isinstance(record.exc_info[1], UserError):
            return False
        return True


def report_user_errors_in_any_script():
    """A UserError that nobody catches, in any script (FastReID's own train_net.py too), ends it
    with one ``error:`` line and exit code 2; any other exception, or any at an interactive
    prompt, keeps Python's traceback."""
    import logging
    import sys
    previous = sys.excepthook

    def excepthook(kind, value, traceback):
        interactive = hasattr(sys, "ps1") or sys.flags.interactive  # a prompt must not exit
        if isinstance(value, UserError) and not interactive:
            exit_with_error_line((kind, value, traceback))
        previous(kind, value, traceback)

    if not getattr(sys.excepthook, "reports_user_errors", False):
        excepthook.reports_user_errors = True
        sys.excepthook = excepthook
        logging.getLogger("fastreid.engine.train_loop").addFilter(_TracebackOnlyInFiles)
