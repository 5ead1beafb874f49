"""The one exception type a user sees: a problem with their input, named in one line."""


class UserInputError(Exception):
  """Bad input from the user: unknown names, malformed files, impossible budgets.

  The binaries print `error: <message>` and exit with status 2 when they catch it,
  so the message must name the offending thing (file and line, task, language,
  gin binding) on its own.
  """


class DataFormatError(UserInputError):
  """A data file that does not follow its official format (names file and line)."""
