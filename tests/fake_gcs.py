"""A Google Cloud Storage server on loopback for tests: real gs:// clients, no network.

`FakeGcs` serves the parts of the GCS JSON API that TensorFlow's gs:// filesystem
(tf.io.gfile, hence etils.epath and tf.summary), tensorstore's gcs driver (orbax's
arrays) and gcsfs use: object metadata, listing with prefix and delimiter, media /
multipart / resumable uploads, ranged downloads (JSON API and path style), rewrite and
copy, delete, with generation preconditions. Objects live in memory.

The clients are pointed at it without changing them, through `environment()`:

- tensorstore reads `TENSORSTORE_GCS_HTTP_URL` (plain http to the server); gcsfs and
  google-cloud-storage read `STORAGE_EMULATOR_HOST`.
- TensorFlow's filesystem has its https://www.googleapis.com and
  https://storage.googleapis.com endpoints compiled in, but its libcurl honours
  `https_proxy` and `CURL_CA_BUNDLE`: the server also answers `CONNECT *.googleapis.com`,
  terminates TLS itself with a certificate from a throwaway CA written for the test,
  and serves the tunnelled requests. Any other CONNECT is refused, so nothing leaves
  the machine.
- `GOOGLE_AUTH_TOKEN_FOR_TESTING` gives TensorFlow and tensorstore a token without
  looking for credentials.
"""

import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import ssl
import threading
import urllib.parse
import uuid
from typing import Optional

_OBJECT = re.compile(r"^/storage/v1/b/([^/]+)/o/(.+?)(?:/(rewriteTo|copyTo)/b/([^/]+)/o/(.+))?$")
_LIST = re.compile(r"^/storage/v1/b/([^/]+)/o/?$")
_BUCKET = re.compile(r"^/storage/v1/b/([^/]+)/?$")
_LAYOUT = re.compile(r"^/storage/v1/b/([^/]+)/storageLayout$")
_UPLOAD = re.compile(r"^/upload/storage/v1/b/([^/]+)/o/?$")
_DOWNLOAD = re.compile(r"^/download/storage/v1/b/([^/]+)/o/(.+)$")
_PATH_STYLE = re.compile(r"^/([^/]+)/(.+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


class _Object:

  def __init__(self, bucket: str, name: str, data: bytes, generation: int, content_type: str):
    self.bucket, self.name, self.data = bucket, name, data
    self.generation, self.content_type = generation, content_type
    self.updated = datetime.datetime.now(datetime.timezone.utc)

  def resource(self) -> dict:
    stamp = self.updated.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "kind": "storage#object", "id": f"{self.bucket}/{self.name}/{self.generation}",
        "name": self.name, "bucket": self.bucket, "size": str(len(self.data)),
        "generation": str(self.generation), "metageneration": "1",
        "contentType": self.content_type, "timeCreated": stamp, "updated": stamp,
        "storageClass": "STANDARD",
        "md5Hash": base64.b64encode(hashlib.md5(self.data).digest()).decode(),
    }


class _PreconditionFailed(Exception):
  pass


class FakeGcs:
  """The server: a thread on 127.0.0.1 serving plain HTTP and CONNECT tunnels.

  Use as a context manager; `objects()` lists what is stored, `read(url)` returns one
  object's bytes (straight from memory, for assertions).
  """

  def __init__(self, certificate_directory: str):
    self._lock = threading.Lock()
    self._objects: dict[tuple[str, str], _Object] = {}
    self._uploads: dict[str, dict] = {}
    self._generation = 1_000_000
    self.ca_path, chain_path = _write_certificates(certificate_directory)
    self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    self.tls.load_cert_chain(chain_path)
    self.refused_connects: list[str] = []
    handler = type("Handler", (_Handler,), {"gcs": self})
    self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    self._server.daemon_threads = True
    self.port = self._server.server_address[1]
    self.url = f"http://127.0.0.1:{self.port}"
    self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

  def __enter__(self) -> "FakeGcs":
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._server.shutdown()
    self._server.server_close()

  def environment(self) -> dict[str, str]:
    """Variables that send TensorFlow, tensorstore and gcsfs gs:// requests here."""
    proxy = self.url
    return {
        "https_proxy": proxy, "HTTPS_PROXY": proxy,
        "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
        "CURL_CA_BUNDLE": self.ca_path,
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "fake-gcs-token",
        "TENSORSTORE_GCS_HTTP_URL": self.url,
        "STORAGE_EMULATOR_HOST": self.url,
        "NO_GCE_CHECK": "true",
        "GCS_RETRY_CONFIG_MAX_RETRIES": "2",
        "GCS_RETRY_CONFIG_INIT_DELAY_TIME_US": "10000",
    }

  def objects(self, bucket: str) -> list[str]:
    """The names of the objects in `bucket`, sorted."""
    with self._lock:
      return sorted(name for (b, name) in self._objects if b == bucket)

  def read(self, bucket: str, name: str) -> bytes:
    with self._lock:
      return self._objects[(bucket, name)].data

  def delete(self, bucket: str, name: str) -> None:
    with self._lock:
      del self._objects[(bucket, name)]

  # Storage operations (called by the handler).

  def _get(self, bucket: str, name: str) -> Optional[_Object]:
    with self._lock:
      return self._objects.get((bucket, name))

  def _check(self, current: Optional[_Object], query: dict) -> None:
    generation = current.generation if current else 0
    match = query.get("ifGenerationMatch")
    if match is not None and int(match) != generation:
      raise _PreconditionFailed()

  def _put(self, bucket: str, name: str, data: bytes, content_type: str, query: dict) -> _Object:
    with self._lock:
      self._check(self._objects.get((bucket, name)), query)
      self._generation += 1
      stored = _Object(bucket, name, data, self._generation, content_type)
      self._objects[(bucket, name)] = stored
      return stored

  def _delete(self, bucket: str, name: str, query: dict) -> bool:
    with self._lock:
      current = self._objects.get((bucket, name))
      if current is None:
        return False
      self._check(current, query)
      del self._objects[(bucket, name)]
      return True

  def _list(self, bucket: str, prefix: str, delimiter: str, start_after: str, limit: int
            ) -> tuple[list[_Object], list[str], Optional[str]]:
    with self._lock:
      names = sorted(name for (b, name) in self._objects
                     if b == bucket and name.startswith(prefix) and name > start_after)
      prefixes, entries = set(), []
      for name in names:
        rest = name[len(prefix):]
        if delimiter and delimiter in rest:
          folder = prefix + rest[:rest.index(delimiter) + len(delimiter)]
          if folder not in prefixes:
            prefixes.add(folder)
            entries.append(("prefix", folder, name))
        else:
          entries.append(("item", self._objects[(bucket, name)], name))
      page, token = entries[:limit], None
      if len(entries) > limit:
        last = page[-1]
        # resume after everything under the last prefix, or after the last item
        token = last[1] + "\U0010ffff" if last[0] == "prefix" else last[2]
      items = [value for kind, value, _ in page if kind == "item"]
      prefixes = sorted(value for kind, value, _ in page if kind == "prefix")
      return items, prefixes, token


class _Handler(http.server.BaseHTTPRequestHandler):
  protocol_version = "HTTP/1.1"
  disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms ACK waits
  gcs: FakeGcs
  scheme = "http"

  def log_message(self, format, *args):  # noqa: A002 (quiet: the test output stays readable)
    pass

  # Transport: CONNECT tunnels carry TensorFlow's https requests.

  def do_CONNECT(self):
    host = self.path.split(":")[0]
    if not host.endswith(".googleapis.com"):
      self.gcs.refused_connects.append(self.path)
      self.send_error(403, "only *.googleapis.com is served")
      self.close_connection = True
      return
    self.send_response(200, "Connection established")
    self.end_headers()
    self.wfile.flush()
    try:
      tunnel = self.gcs.tls.wrap_socket(self.connection, server_side=True)
    except (ssl.SSLError, OSError):
      self.close_connection = True
      return
    tunnelled = type("TunnelHandler", (_TunnelHandler,), {"gcs": self.gcs})
    try:  # serves the tunnel's requests until the client closes it
      tunnelled(tunnel, self.client_address, self.server)
    except (OSError, ssl.SSLError):
      pass
    self.close_connection = True

  # Requests.

  def _query(self) -> tuple[str, dict]:
    parsed = urllib.parse.urlsplit(self.path)
    query = {key: values[-1] for key, values in urllib.parse.parse_qs(
        parsed.query, keep_blank_values=True).items()}
    return parsed.path, query

  def _body(self) -> bytes:
    if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
      data = b""
      while True:
        size = int(self.rfile.readline().strip().split(b";")[0], 16)
        if size == 0:
          self.rfile.readline()
          return data
        data += self.rfile.read(size)
        self.rfile.readline()
    length = int(self.headers.get("Content-Length") or 0)
    return self.rfile.read(length) if length else b""

  def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
            headers: Optional[dict] = None, head: bool = False) -> None:
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
      self.send_header(key, value)
    self.end_headers()
    if body and not head:
      self.wfile.write(body)

  def _json(self, status: int, value: dict, headers: Optional[dict] = None) -> None:
    self._send(status, json.dumps(value).encode(), headers=headers)

  def _error(self, status: int, message: str) -> None:
    self._json(status, {"error": {"code": status, "message": message,
                                  "errors": [{"message": message}]}})

  def _handle(self, method: str) -> None:
    body = self._body() if method in ("POST", "PUT", "PATCH") else b""
    path, query = self._query()
    try:
      self._route(method, path, query, body)
    except _PreconditionFailed:
      self._error(412, "Precondition Failed")

  def do_GET(self):
    self._handle("GET")

  def do_HEAD(self):
    self._handle("HEAD")

  def do_POST(self):
    self._handle("POST")

  def do_PUT(self):
    self._handle("PUT")

  def do_DELETE(self):
    self._handle("DELETE")

  def do_PATCH(self):
    self._handle("PATCH")

  def _route(self, method: str, path: str, query: dict, body: bytes) -> None:
    gcs = self.gcs
    unquote = urllib.parse.unquote
    if (match := _UPLOAD.match(path)):
      self._upload(method, unquote(match.group(1)), query, body)
    elif (match := _OBJECT.match(path)):
      bucket, name = unquote(match.group(1)), unquote(match.group(2))
      if match.group(3):  # rewriteTo / copyTo
        if method != "POST":
          return self._error(405, "method not allowed")
        source = gcs._get(bucket, name)
        if source is None:
          return self._error(404, f"No such object: {bucket}/{name}")
        copied = gcs._put(unquote(match.group(4)), unquote(match.group(5)), source.data,
                          source.content_type, query)
        if match.group(3) == "copyTo":
          return self._json(200, copied.resource())
        return self._json(200, {"kind": "storage#rewriteResponse", "done": True,
                                "totalBytesRewritten": str(len(source.data)),
                                "objectSize": str(len(source.data)),
                                "resource": copied.resource()})
      if method in ("GET", "HEAD"):
        if query.get("alt") == "media":
          return self._download(bucket, name, query, head=method == "HEAD")
        current = gcs._get(bucket, name)
        if current is None:
          return self._error(404, f"No such object: {bucket}/{name}")
        gcs._check(current, query)
        return self._json(200, current.resource())
      if method == "DELETE":
        if not gcs._delete(bucket, name, query):
          return self._error(404, f"No such object: {bucket}/{name}")
        return self._send(204)
      if method == "PATCH":
        current = gcs._get(bucket, name)
        if current is None:
          return self._error(404, f"No such object: {bucket}/{name}")
        return self._json(200, current.resource())
      return self._error(405, "method not allowed")
    elif (match := _LIST.match(path)) and method == "GET":
      limit = int(query.get("maxResults") or 1000)
      start_after = query.get("pageToken") or ""
      if query.get("startOffset") and query["startOffset"] > start_after:
        start_after = query["startOffset"][:-1] + chr(ord(query["startOffset"][-1]) - 1) + "\U0010ffff"
      items, prefixes, token = gcs._list(unquote(match.group(1)), query.get("prefix", ""),
                                         query.get("delimiter", ""), start_after, limit)
      result = {"kind": "storage#objects", "items": [item.resource() for item in items],
                "prefixes": prefixes}
      if token:
        result["nextPageToken"] = token
      return self._json(200, result)
    elif (match := _LAYOUT.match(path)) and method == "GET":  # flat namespace, no folders
      return self._json(200, {"kind": "storage#storageLayout", "bucket": unquote(match.group(1)),
                              "location": "US", "locationType": "multi-region",
                              "hierarchicalNamespace": {"enabled": False}})
    elif (match := _BUCKET.match(path)) and method == "GET":
      return self._json(200, {"kind": "storage#bucket", "name": unquote(match.group(1)),
                              "id": unquote(match.group(1)), "location": "US",
                              "locationType": "multi-region", "storageClass": "STANDARD"})
    elif (match := _DOWNLOAD.match(path)) and method in ("GET", "HEAD"):
      return self._download(unquote(match.group(1)), unquote(match.group(2)), query,
                            head=method == "HEAD")
    elif (match := _PATH_STYLE.match(path)) and method in ("GET", "HEAD"):
      return self._download(unquote(match.group(1)), unquote(match.group(2)), query,
                            head=method == "HEAD")
    else:
      self._error(404, f"not served by the fake: {method} {path}")

  def _download(self, bucket: str, name: str, query: dict, head: bool) -> None:
    current = self.gcs._get(bucket, name)
    if current is None:
      return self._error(404, f"No such object: {bucket}/{name}")
    self.gcs._check(current, query)
    not_match = query.get("ifGenerationNotMatch")
    headers = {"x-goog-generation": str(current.generation), "x-goog-metageneration": "1",
               "x-goog-stored-content-length": str(len(current.data)),
               "x-goog-hash": "md5=" + current.resource()["md5Hash"],
               "ETag": f'"{current.generation}"', "Accept-Ranges": "bytes"}
    if not_match is not None and int(not_match) == current.generation:
      return self._send(304, headers=headers, head=True)
    data, size = current.data, len(current.data)
    requested = self.headers.get("Range")
    match = _RANGE.match(requested.strip()) if requested else None
    if match and (match.group(1) or match.group(2)):
      if match.group(1):
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else size - 1
      else:
        start, end = max(size - int(match.group(2)), 0), size - 1
      if start >= size:
        return self._send(416, headers={**headers, "Content-Range": f"bytes */{size}"})
      end = min(end, size - 1)
      headers["Content-Range"] = f"bytes {start}-{end}/{size}"
      return self._send(206, data[start:end + 1], current.content_type, headers, head)
    return self._send(200, data, current.content_type, headers, head)

  def _upload(self, method: str, bucket: str, query: dict, body: bytes) -> None:
    gcs = self.gcs
    kind = query.get("uploadType", "media")
    if method == "POST" and kind == "media":
      stored = gcs._put(bucket, query["name"], body,
                        self.headers.get("Content-Type") or "application/octet-stream", query)
      return self._json(200, stored.resource())
    if method == "POST" and kind == "multipart":
      metadata, data, content_type = _split_multipart(self.headers.get("Content-Type", ""), body)
      name = query.get("name") or metadata["name"]
      stored = gcs._put(bucket, name, data, metadata.get("contentType") or content_type, query)
      return self._json(200, stored.resource())
    if method == "POST" and kind == "resumable":
      metadata = json.loads(body) if body.strip() else {}
      upload_id = uuid.uuid4().hex
      gcs._uploads[upload_id] = {
          "bucket": bucket, "name": query.get("name") or metadata["name"], "data": b"",
          "query": {k: v for k, v in query.items() if k.startswith("if")},
          "content_type": metadata.get("contentType")
          or self.headers.get("X-Upload-Content-Type") or "application/octet-stream"}
      host = self.headers.get("Host") or f"127.0.0.1:{gcs.port}"
      location = (f"{self.scheme}://{host}/upload/storage/v1/b/{urllib.parse.quote(bucket)}/o"
                  f"?uploadType=resumable&upload_id={upload_id}")
      return self._send(200, headers={"Location": location})
    if method == "PUT" and "upload_id" in query:
      session = gcs._uploads.get(query["upload_id"])
      if session is None:
        return self._error(404, "no such upload")
      match = _CONTENT_RANGE.match((self.headers.get("Content-Range") or "").strip())
      total = None
      if match:
        if match.group(1) is not None:
          session["data"] = session["data"][:int(match.group(1))] + body
        if match.group(3) != "*":
          total = int(match.group(3))
      else:  # a single request with the whole content
        session["data"], total = body, len(body)
      received = len(session["data"])
      if total is not None and received >= total:
        del gcs._uploads[query["upload_id"]]
        stored = gcs._put(session["bucket"], session["name"], session["data"][:total],
                          session["content_type"], session["query"])
        return self._json(200, stored.resource())
      headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
      return self._send(308, headers=headers)
    return self._error(400, f"unsupported upload {method} {kind}")


class _TunnelHandler(_Handler):
  """Serves the requests inside a CONNECT tunnel (after TLS)."""

  scheme = "https"


def _split_multipart(content_type: str, body: bytes) -> tuple[dict, bytes, str]:
  boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
  parts = [part for part in body.split(b"--" + boundary) if part.strip() not in (b"", b"--")]
  decoded = []
  for part in parts:
    head, _, data = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
    if data.endswith(b"\r\n"):
      data = data[:-2]
    kind = re.search(rb"(?im)^content-type:\s*([^\r\n]+)", head)
    decoded.append((kind.group(1).decode() if kind else "application/octet-stream", data))
  metadata = json.loads(decoded[0][1])
  return metadata, decoded[1][1], decoded[1][0]


def _write_certificates(directory: str) -> tuple[str, str]:
  """A throwaway CA (ca.pem, for CURL_CA_BUNDLE) and a *.googleapis.com certificate it
  signed, with its key (server.pem, for the TLS end of the tunnels)."""
  from cryptography import x509
  from cryptography.hazmat.primitives import hashes, serialization
  from cryptography.hazmat.primitives.asymmetric import ec
  from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

  now = datetime.datetime.now(datetime.timezone.utc)
  valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))
  ca_key = ec.generate_private_key(ec.SECP256R1())
  ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xlt-jax fake GCS test CA")])
  ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(valid[0]).not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256()))
  key = ec.generate_private_key(ec.SECP256R1())
  leaf = (x509.CertificateBuilder()
          .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.googleapis.com")]))
          .issuer_name(ca_name).public_key(key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(valid[0]).not_valid_after(valid[1])
          .add_extension(x509.SubjectAlternativeName([x509.DNSName("*.googleapis.com")]),
                         critical=False)
          .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
  pem = serialization.Encoding.PEM
  ca_path = os.path.join(directory, "ca.pem")
  with open(ca_path, "wb") as file:
    file.write(ca.public_bytes(pem))
  chain_path = os.path.join(directory, "server.pem")
  with open(chain_path, "wb") as file:
    file.write(leaf.public_bytes(pem))
    file.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
  return ca_path, chain_path
