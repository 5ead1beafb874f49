"""Where official releases come from: the Hugging Face Hub and publishers' URLs.

Preparation takes a `Fetcher`, so a test can pass one that copies local files
and check which repository and file would have been downloaded; nothing else
in the package touches the network. The cache directory is local (the downloaders
write local files); preparation copies from it into DATA_DIR through core/paths.
"""

import dataclasses
import os
import urllib.parse
import urllib.request
from typing import Callable

from xlt_jax.core.errors import UserInputError


def _hub_file(repo_id: str, filename: str, cache_dir: str) -> str:
  import huggingface_hub  # imported here: only a real download needs it

  return huggingface_hub.hf_hub_download(repo_id=repo_id, filename=filename,
                                         repo_type="dataset", cache_dir=cache_dir)


def _list_files(repo_id: str) -> list[str]:
  import huggingface_hub

  return huggingface_hub.HfApi().list_repo_files(repo_id, repo_type="dataset")


def _url_file(url: str, cache_dir: str) -> str:
  name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
  destination = os.path.join(cache_dir, "urls", name)
  if not os.path.exists(destination):
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temporary = destination + ".partial"
    try:
      urllib.request.urlretrieve(url, temporary)
    except OSError as error:
      raise UserInputError(f"could not download {url}: {error}") from None
    os.replace(temporary, destination)
  return destination


@dataclasses.dataclass(frozen=True)
class Fetcher:
  """Fetches one file of an official release and returns its local path.

  Attributes:
    hub_file: (dataset repository id, file inside it, cache dir) -> local path.
    url_file: (URL, cache dir) -> local path.
    list_files: dataset repository id -> the files it holds (for releases whose
      file names carry a content hash, such as OASST1's parquet shards).
    cache_dir: where downloads are kept (resumable, reused by later runs).
  """

  cache_dir: str
  hub_file: Callable[[str, str, str], str] = _hub_file
  url_file: Callable[[str, str], str] = _url_file
  list_files: Callable[[str], list[str]] = _list_files

  def hub(self, repo_id: str, filename: str) -> str:
    return self.hub_file(repo_id, filename, self.cache_dir)

  def url(self, url: str) -> str:
    return self.url_file(url, self.cache_dir)
