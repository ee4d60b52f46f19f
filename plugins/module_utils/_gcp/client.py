# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Google Cloud credentials (google-auth) and JSON REST calls (requests), retried and translated.

``GcpConnection`` holds the credentials and one HTTP session for a task.
``call(method, path, body=None, query=None)`` sends one JSON request to the
API's base URL (``gcp_endpoint_url`` when given), retries 429, 5xx and
transport errors with full-jitter backoff under ``retry_deadline`` seconds,
and turns any other failure into one ``AdharError`` carrying Google's status
(``gcp_status``, such as ``NOT_FOUND``) and the HTTP status.

About the package ``_gcp``: shared Google Cloud plumbing for every part of the collection that talks to GCP.

* ``args``    the connection options (``GCP_ARG_SPEC``) <-> ``doc_fragments/gcp.py`` (1:1, unit-tested)
* ``client``  google-auth credentials from the options, and JSON REST calls (requests) with the collection's
              jittered retries; Google errors -> ``AdharError`` with the Google status

No Google client library is used: google-auth for credentials, requests for HTTP.
"""

from __future__ import annotations

import json

from ansible_collections.adhar.platform.plugins.module_utils._common.core import AdharError, check_library
from ansible_collections.adhar.platform.plugins.module_utils._common.retries import default_is_retryable, retry_call
from ansible_collections.adhar.platform.plugins.module_utils._gcp.args import GCP_ENV, gcp_params

try:
    import google.auth
    import google.auth.exceptions
    import google.auth.transport.requests
    import google.oauth2.credentials
    import requests
except ImportError as exc:  # pragma: no cover - exercised by sanity's import test
    google = requests = None
    GOOGLE_AUTH_IMPORT_ERROR = exc
else:
    GOOGLE_AUTH_IMPORT_ERROR = None

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_ENDPOINTS = {
    "container": "https://container.googleapis.com/",
    "compute": "https://compute.googleapis.com/compute/v1/",
    "dns": "https://dns.googleapis.com/",
}
DEFAULT_RETRY_DEADLINE = 120.0
REQUEST_TIMEOUT = 60.0


class GcpHttpError(Exception):
    """A non-2xx answer of a Google API (``status``, ``headers`` and the decoded ``error`` object)."""

    def __init__(self, status, headers, error, method, url):
        self.status = status
        self.headers = headers
        self.error = error if isinstance(error, dict) else {}
        self.gcp_status = self.error.get("status")
        self.message = _compact(self.error.get("message") or error or "HTTP %s" % status)
        super().__init__("%s %s: HTTP %s %s: %s" % (method, url, status, self.gcp_status or "", self.message))


def _compact(text, limit=500):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def gcp_retryable(exc):
    """429, 5xx (not 501) and transport errors are worth another attempt."""
    if isinstance(exc, GcpHttpError):
        return exc.status == 429 or (exc.status >= 500 and exc.status != 501)
    if requests is not None and isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    return default_is_retryable(exc)


def require_google_auth(what):
    """One error naming google-auth or requests when either is missing or too old for ``what``."""
    failed = GOOGLE_AUTH_IMPORT_ERROR
    requests_failed = failed is not None and getattr(failed, "name", "") == "requests"
    check_library("google-auth", None if requests_failed else failed, purpose="for %s" % what)
    check_library("requests", failed if requests_failed else None, purpose="for %s" % what)


def _service_account_info(contents):
    if isinstance(contents, dict):
        return contents
    try:
        info = json.loads(contents)
    except ValueError as exc:
        raise AdharError("service_account_contents: not JSON: %s" % exc, option="service_account_contents") from exc
    if not isinstance(info, dict):
        raise AdharError("service_account_contents: must be a JSON object (a service-account key)",
                         option="service_account_contents")
    return info


def load_credentials(params, what):
    """``(credentials, project from the credentials or None)`` from the options; nothing is sent anywhere."""
    require_google_auth(what)
    opts = gcp_params(params)
    try:
        if opts["access_token"]:
            return google.oauth2.credentials.Credentials(token=opts["access_token"]), None
        if opts["service_account_contents"]:
            info = _service_account_info(opts["service_account_contents"])
            creds, project = google.auth.load_credentials_from_dict(info, scopes=[CLOUD_PLATFORM_SCOPE])
            return creds, project or info.get("project_id")
        if opts["credentials_file"]:
            return google.auth.load_credentials_from_file(opts["credentials_file"], scopes=[CLOUD_PLATFORM_SCOPE])
        return google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        option = "service_account_contents" if opts["service_account_contents"] else "credentials_file"
        raise AdharError("%s: no usable Google credentials for %s: %s (give access_token, service_account_contents "
                         "or credentials_file, or set %s)" % (option, what, _compact(exc), GCP_ENV["credentials_file"][0]),
                         option=option) from exc
    except (ValueError, OSError) as exc:
        option = "service_account_contents" if opts["service_account_contents"] else "credentials_file"
        raise AdharError("%s: cannot read the Google credentials: %s" % (option, _compact(exc)), option=option) from exc


class GcpConnection:
    """Credentials and an HTTP session for one task, from the options of ``GCP_ARG_SPEC``.

    ``what`` names the task in errors.  ``project`` is the option, else the
    credentials' project; a task without one fails before any call.
    """

    def __init__(self, params, what, retry_deadline=DEFAULT_RETRY_DEADLINE):
        opts = gcp_params(params)
        self.what = what
        self.retry_deadline = retry_deadline
        self.endpoint_url = opts["gcp_endpoint_url"]
        self.credentials, cred_project = load_credentials(params, what)
        self.project = opts["project"] or cred_project
        if not self.project:
            raise AdharError("project: no Google Cloud project given; set the project option, CLOUDSDK_CORE_PROJECT or "
                             "GOOGLE_CLOUD_PROJECT", option="project")
        self.session = requests.Session()
        self._auth_request = google.auth.transport.requests.Request(session=self.session)

    def base_url(self, api):
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/") + "/" + ("compute/v1/" if api == "compute" else "")
        return DEFAULT_ENDPOINTS[api]

    def token(self):
        """A valid access token (refreshed through google-auth when needed) and its expiry (datetime or ``None``)."""
        if not self.credentials.valid:
            try:
                self.credentials.refresh(self._auth_request)
            except google.auth.exceptions.GoogleAuthError as exc:
                raise AdharError("%s: cannot get a Google access token: %s" % (self.what, _compact(exc))) from exc
        return self.credentials.token, getattr(self.credentials, "expiry", None)

    def call(self, method, path, body=None, query=None, api="container", what=None):
        """One JSON request; ``path`` is relative to the API's base URL (``v1/projects/...``)."""
        url = path if path.startswith(("http://", "https://")) else self.base_url(api) + path.lstrip("/")

        def attempt():
            token, dummy = self.token()
            resp = self.session.request(method, url, params=query or None,
                                        data=None if body is None else json.dumps(body),
                                        headers={"Authorization": "Bearer " + token,
                                                 "Content-Type": "application/json"},
                                        timeout=REQUEST_TIMEOUT)
            if resp.status_code >= 400:
                try:
                    error = resp.json().get("error")
                except ValueError:
                    error = resp.text
                raise GcpHttpError(resp.status_code, resp.headers, error, method, url)
            return resp.json() if resp.content else {}

        label = "%s %s" % (method, url)
        try:
            return retry_call(attempt, deadline=self.retry_deadline, is_retryable=gcp_retryable)
        except GcpHttpError as exc:
            raise _error(exc, label, what or self.what) from exc
        except AdharError as exc:
            if isinstance(exc.cause, GcpHttpError):
                err = _error(exc.cause, label, what or self.what)
                err.msg = "%s (gave up after %s attempts)" % (err.msg, exc.details.get("attempts"))
                raise err from exc.cause
            raise
        except requests.RequestException as exc:
            raise AdharError("%s: Google Cloud request %s failed: %s" % (what or self.what, label, _compact(exc))) from exc


def _error(exc, label, what):
    code = exc.gcp_status or "HTTP %s" % exc.status
    msg = "Google Cloud %s failed: %s: %s" % (label, code, exc.message)
    if what:
        msg = "%s: %s" % (what, msg)
    return AdharError(msg, cause=exc, gcp_status=exc.gcp_status, status=exc.status)
