"""The experiment registry and its analysis.

sqlite-utils is imported here first, without pandas and numpy: it loads them only to map DataFrame column types
when it creates tables from Python values, which Winback never does, and they cost most of a listing command's
start-up (issue 24)."""
from common.lazy_imports import import_without

import_without("sqlite_utils", ("pandas", "numpy"))
