"""A SCIM client over real HTTP with the interface of `tests.conftest.SCIMClient`, so that
tests written against Django's in-process client also run against the live server (granian)."""

import json

import httpx2

from tests.conftest import SCIM_JSON


class LiveResponse:
    """An HTTP response that answers like a Django test response."""

    streaming = False

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        self.content = response.content

    def json(self):
        return self.response.json()

    def __getitem__(self, header: str) -> str:
        return self.response.headers[header]


class LiveSCIMClient:
    """Send requests to the live server's SCIM root with `SCIMClient`'s arguments."""

    def __init__(self, client: httpx2.Client) -> None:
        self.client = client

    @staticmethod
    def _url(path: str) -> str:
        return path.removeprefix("/scim/v2")

    @staticmethod
    def _headers(extra: dict) -> dict:
        headers = {"Accept": SCIM_JSON, "Content-Type": SCIM_JSON}
        if "content_type" in extra:
            headers["Content-Type"] = extra.pop("content_type")
        for key, value in extra.items():  # Django's HTTP_IF_MATCH is the If-Match header
            headers[key.removeprefix("HTTP_").replace("_", "-").title()] = value
        return headers

    def get(self, path, data=None, **extra):
        response = self.client.get(self._url(path), params=data, headers=self._headers(extra))
        return LiveResponse(response)

    def delete(self, path, **extra):
        return LiveResponse(self.client.delete(self._url(path), headers=self._headers(extra)))

    def _send(self, method, path, body, **extra):
        content = body if isinstance(body, str | bytes) else json.dumps(body)
        response = self.client.request(
            method, self._url(path), content=content, headers=self._headers(extra)
        )
        return LiveResponse(response)

    def post(self, path, body=None, **extra):
        return self._send("POST", path, body, **extra)

    def put(self, path, body=None, **extra):
        return self._send("PUT", path, body, **extra)

    def patch(self, path, body=None, **extra):
        return self._send("PATCH", path, body, **extra)
