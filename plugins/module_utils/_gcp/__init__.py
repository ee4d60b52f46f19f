# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared Google Cloud plumbing for every part of the collection that talks to GCP.

* ``args``    the connection options (``GCP_ARG_SPEC``) <-> ``doc_fragments/gcp.py`` (1:1, unit-tested)
* ``client``  google-auth credentials from the options, and JSON REST calls (requests) with the collection's
              jittered retries; Google errors -> ``AdharError`` with the Google status

No Google client library is used: google-auth for credentials, requests for HTTP.
"""
