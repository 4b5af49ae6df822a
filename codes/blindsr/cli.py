"""Run a command-line job: expected user errors become one line on stderr and exit status 2."""
import logging
import sys

from .options import OptionsError


def user_errors():
    """Exception types that mean "bad input": reported in one line, no traceback."""
    from .utils.files import SaveError
    from .utils.image_io import ImageNotFoundError, ImageReadError
    errors = [OptionsError, ImageNotFoundError, ImageReadError, FileNotFoundError, SaveError]
    try:
        from .data.errors import DatasetError
        errors.append(DatasetError)
    except ImportError:
        pass
    return tuple(errors)


def run_cli(job):
    """Run ``job()``; its return value (None = 0) is the exit status unless it raises."""
    try:
        status = job()
    except KeyboardInterrupt:
        logging.getLogger('blindsr').warning('interrupted')
        return 130
    except user_errors() as e:
        sys.stderr.write(f'error: {e}\n')
        return 2
    except (KeyError, ValueError) as e:
        # registry lookups and argument checks raise these with a readable message
        msg = e.args[0] if e.args else repr(e)
        sys.stderr.write(f'error: {msg}\n')
        return 2
    return status or 0
