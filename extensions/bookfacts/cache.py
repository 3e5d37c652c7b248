"""The execution cache (jupyter-cache, `_build/.jupyter_cache`): the executed
notebook of a chapter's current source, its execution time, damaged entries."""

from __future__ import annotations

from pathlib import Path

from bookfacts.book import ROOT, chapters, source_path
from bookfacts.reading import read_notebook


def cache_path(book: Path = ROOT) -> Path:
    return book / "_build" / ".jupyter_cache"


def _matching_record(cache_dir: Path | str, nb):
    """(jupyter-cache, record) of notebook `nb`'s code, or (cache, None)."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    try:
        return cache, cache.match_cache_notebook(nb)
    except KeyError:
        return cache, None


def executed(cache_dir: Path | str, nb):
    """The executed notebook (execution counts, outputs, output metadata) that the
    cache in `cache_dir` holds for notebook `nb`'s code, or None."""
    cache, record = _matching_record(cache_dir, nb)
    return None if record is None else cache.get_cache_bundle(record.pk).nb


def cache_record(book: Path, docname: str, read: Path | None = None):
    """(jupyter-cache, record) of the chapter's current source, or (cache, None).
    `read`: a folder where the build wrote each chapter as it read it (myst-nb's
    output folder, `<docname>.ipynb`), which spares parsing the chapter again."""
    if read is not None:
        import nbformat

        nb = nbformat.reader.reads((read / f"{docname}.ipynb").read_text(encoding="utf8"))
    else:
        nb = read_notebook(source_path(book, docname))
    return _matching_record(cache_path(book), nb)


def drop_damaged_cache_entries(book: Path = ROOT) -> list[str]:
    """Remove every jupyter-cache entry whose executed notebook cannot be read (a
    disk-full or killed write leaves a truncated or non-JSON file, and every later
    build would stop at it); the chapter is then executed again. Returns one line
    per entry dropped."""
    from jupyter_cache import get_cache

    if not cache_path(book).is_dir():
        return []
    import nbformat

    cache = get_cache(str(cache_path(book)))
    # Read the files themselves: get_cache_bundle would also write each entry's
    # access time into the cache's database, on every build. The path of an entry's
    # notebook is private to jupyter-cache (1.0.1, requirements.txt).
    if not hasattr(cache, "_get_notebook_path_cache"):
        raise RuntimeError(
            "jupyter-cache no longer has _get_notebook_path_cache (known in 1.0.1): "
            "update bookfacts.drop_damaged_cache_entries"
        )
    dropped = []
    for record in cache.list_cache_records():
        try:
            path = cache._get_notebook_path_cache(record.hashkey)
            nbformat.reader.reads(path.read_text(encoding="utf8"))  # JSON and nbformat version
        except Exception as exc:  # any unreadable entry is damaged
            cache.remove_cache(record.pk)
            name = Path(record.uri).name if record.uri else f"entry {record.pk}"
            dropped.append(
                f"The execution cache's entry for {name} was damaged ({type(exc).__name__}): "
                "dropped it; that chapter is executed again."
            )
    return dropped


def execution_seconds(book: Path, docname: str, read: Path | None = None) -> float | None:
    """Execution time of the chapter's current source, from jupyter-cache."""
    _, record = cache_record(book, docname, read)
    return None if record is None else record.data.get("execution_seconds")


def execution_lines(book: Path = ROOT, read: Path | None = None) -> list[str]:
    """'  12.3 s  chapters/jit' for every chapter, in toc order."""
    lines = []
    for docname in chapters(book):
        seconds = execution_seconds(book, docname, read)
        shown = f"{seconds:6.1f} s" if seconds is not None else "   n/a"
        lines.append(f"{shown}  {docname}")
    return lines


def executed_notebook(book: Path, docname: str):
    """The notebook exactly as it was executed for the current source (execution
    counts, outputs, output metadata), from jupyter-cache."""
    cache, record = cache_record(book, docname)
    if record is None:
        raise KeyError(f"{docname}: no execution of its current source in {cache_path(book)}")
    return cache.get_cache_bundle(record.pk).nb
