"""Client-id metadata documents (MCP authorization 2025-11-25): the fetcher the toolkit uses.

django-oauth-toolkit fetches a client's `https://…` client_id itself and refuses any host
that resolves to a private, loopback or link-local address (SSRF). That stays so in
production. Tests serve a document from this machine, so `OAUTH_CIMD_LOOPBACK_HOSTS` names
host names whose documents may come from a loopback address (and nowhere else), and
`OAUTH_CIMD_CA_FILE` a certificate to trust for them. Neither is read from the environment:
only a test's settings can set them (docs/operations.md, "Client-id metadata documents").
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Any

import urllib3
from django.conf import settings
from oauth2_provider.cimd import CIMDError, SafeMetadataFetcher, _validate_client_id_url
from oauth2_provider.settings import oauth2_settings


class MetadataFetcher(SafeMetadataFetcher):
    def fetch(self, client_id: str) -> tuple[dict[str, Any], int]:
        # The toolkit's check of the URL's shape (https, a host, a path, no userinfo or
        # fragment): private to it, but the specification's rule, better not copied.
        parsed = _validate_client_id_url(client_id)
        if parsed.hostname not in settings.OAUTH_CIMD_LOOPBACK_HOSTS:
            return super().fetch(client_id)
        port = parsed.port or 443
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        failure: Exception | None = None
        for address in _loopback_addresses(parsed.hostname, port):
            pool = urllib3.HTTPSConnectionPool(
                host=address,
                port=port,
                timeout=urllib3.Timeout(total=oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS),
                retries=False,
                maxsize=1,
                ssl_context=ssl.create_default_context(cafile=settings.OAUTH_CIMD_CA_FILE),
                server_hostname=parsed.hostname,
            )
            try:
                response = pool.urlopen(
                    "GET",
                    path,
                    headers={"Host": parsed.netloc, "Accept": "application/json"},
                    redirect=False,
                    preload_content=False,
                )
                try:
                    return self._read_document(response)
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                failure = exc
            finally:
                pool.close()
        raise CIMDError(f"could not fetch client_id document: {failure}")


def _loopback_addresses(hostname: str, port: int) -> list[str]:
    """The host's addresses, when every one of them is a loopback address."""
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise CIMDError(f"could not resolve client_id host: {exc}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(ipaddress.ip_address(a).is_loopback for a in addresses):
        raise CIMDError("a host allowed for loopback documents must resolve to loopback only")
    return addresses
