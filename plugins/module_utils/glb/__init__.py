# -*- coding: utf-8 -*-
# Copyright (c) 2026 adhar.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Global load balancing: one DNS name answered by several clusters, on Route 53, Cloud DNS or a local CoreDNS.

* ``spec``       the module's options, their validation (before anything is sent anywhere) and the provider-neutral
                 plan: one *member* per cluster, keyed on (record name, record type, set identifier)
* ``endpoints``  a cluster's endpoint read from its ingress Service through its Kubernetes connection
* ``route53``    the Route 53 backend (boto3 through ``_aws``): record sets per routing policy, one health check per
                 endpoint, one ChangeResourceRecordSets batch waited to INSYNC
* ``clouddns``   the Cloud DNS backend (REST v1 through ``_gcp``): one rrset with a routing policy (geo, wrr,
                 primaryBackup); ``latency`` becomes geolocation by region
* ``local``      the embedded default: a CoreDNS process serving the zone from a zone file and a weight file
* ``runner``     what every backend shares: the diff, check mode, the drain after a switch, the result
"""
