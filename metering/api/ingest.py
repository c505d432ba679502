"""The ingestion endpoints: Fluxrate's `/sdk/track` and `/usage`, Flexprice's `/events` and `/events/bulk`.

They validate with plain functions (metering.validation), not a serializer per event: the bulk
path handles 1000 events per request and spends its time in one INSERT, not in field objects.
"""

from datetime import timezone

from django.conf import settings
from django.utils import timezone as django_timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.request import Empty
from rest_framework.views import APIView

from fluxbill.core.errors import NotFound, error_body
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.lookups import get_by_id_or_key
from fluxbill.core.parsers import PayloadTooLarge
from fluxbill.core.schema import ErrorResponse
from fluxbill.core.throttling import PerKeyRateThrottle
from metering import lookups, services
from metering.aggregation import BUCKETS, usage_buckets
from metering.models import Meter, UsageEvent
from metering.validation import EventRejected

from .bulk_gate import RETRY_AFTER_SECONDS, bulk_turn
from .filters import UsageEventFilter
from .serializers import (
    BulkEventsRequest,
    FlexpriceEventRequest,
    TrackRequest,
    UsageEventOutput,
    UsageQuery,
    UsageRequest,
)

MAX_ERRORS_LISTED = 10


class EventCursorPagination(CursorPagination):
    """Cursor pages: no COUNT(*) over tens of millions of events, stable while new ones arrive."""

    ordering = ("-timestamp", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


UsageReport = inline_serializer(
    "UsageReport",
    {
        "meter_id": serializers.CharField(),
        "aggregation_type": serializers.CharField(),
        "customer_id": serializers.CharField(allow_null=True),
        "group_by": serializers.CharField(),
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "total": serializers.CharField(),
        "buckets": serializers.ListField(child=serializers.DictField()),
    },
)


def _utc_text(moment) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _tracked_event(event: services.StoredEvent) -> dict:
    return {
        "id": str(event.id),
        "customer_id": event.customer_id,
        "meter_id": event.meter_id,
        "quantity": decimal_to_string(event.quantity),
        "timestamp": _utc_text(event.timestamp),
        "created_at": _utc_text(event.created_at),
        "meta_data": event.properties,
    }


_TRACKED = inline_serializer(
    "TrackedEvent",
    {
        "id": serializers.CharField(),
        "customer_id": serializers.CharField(),
        "meter_id": serializers.CharField(),
        "quantity": serializers.CharField(),
        "timestamp": serializers.DateTimeField(),
        "created_at": serializers.DateTimeField(),
        "meta_data": serializers.DictField(),
    },
)


_EVENT_TARGET_NOT_FOUND = OpenApiResponse(
    ErrorResponse, description="The meter or the customer the event names does not exist."
)


class _IngestView(APIView):
    required_scope = "usage.write"
    required_permission = "metering.add_usageevent"
    throttle_classes = [PerKeyRateThrottle]
    throttle_scope = "single"
    # POSTs here may use an API key read in the last FLUXBILL_API_KEY_CACHE_SECONDS (apikeys.services).
    accepts_cached_api_key = True

    def handle_exception(self, exc):
        # A body that is not JSON never reaches `ingest`: list it under the debugger's Rejected too. The
        # parser runs only after authentication and permissions passed, so the caller is known here.
        if isinstance(exc, ParseError):
            services.rejection_record(
                endpoint=self.request.path,
                error=str(exc.detail),
                payload=_raw_excerpt(self.request),
                key=self.request.auth,
                now=django_timezone.now(),
            )
        return super().handle_exception(exc)


def _raw_excerpt(request) -> str:
    """The start of a request body that did not parse, as text the database can hold (no NUL)."""
    try:
        raw = request._request.body[:4096]
    except Exception:  # RawPostDataException: the stream was read already; nothing to show
        return ""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\\u0000")


class _SingleEventView(_IngestView):
    """One event per request. `ingest` does the work for both ways in: DRF's `post`, and the
    fast path (metering.api.fastpath) that well-formed API-key requests take past DRF and most middleware."""

    def ingest(self, *, data, path: str, key) -> tuple[int, dict, dict]:
        """(status, body, extra headers) for one event."""
        raise NotImplementedError

    def post(self, request):
        status_code, body, headers = self.ingest(data=request.data, path=request.path, key=request.auth)
        return Response(body, status=status_code, headers=headers)


def _rejection(exc: EventRejected, *, data, path: str, key) -> tuple[int, dict, dict]:
    services.rejection_record(endpoint=path, error=exc.message, field=exc.field, payload=data, key=key, now=django_timezone.now())
    return exc.status_code, error_body(exc.message, exc.field), {}


class TrackView(_SingleEventView):
    """Fluxrate SDK: one event by meter token and customer external id (the customer is created if new)."""

    by = "token"

    def ingest(self, *, data, path, key):
        try:
            event, duplicate = services.event_track(data=data, now=django_timezone.now(), by=self.by)
        except EventRejected as exc:
            return _rejection(exc, data=data, path=path, key=key)
        return status.HTTP_201_CREATED, _tracked_event(event), {"Idempotent-Replayed": "true"} if duplicate else {}

    @extend_schema(request=TrackRequest, responses={201: _TRACKED, 404: _EVENT_TARGET_NOT_FOUND})
    def post(self, request):
        return super().post(request)


class UsageView(TrackView):
    """Fluxrate REST form: one event by meter id and customer id (the customer must exist)."""

    by = "id"

    @extend_schema(request=UsageRequest, responses={201: _TRACKED, 404: _EVENT_TARGET_NOT_FOUND})
    def post(self, request):
        return super().post(request)


_BULK_ANSWER = inline_serializer(
    "BulkEventsAnswer",
    {
        "message": serializers.CharField(),
        "accepted": serializers.CharField(),
        "duplicates": serializers.CharField(),
        "rejected": serializers.CharField(),
        "errors": serializers.CharField(required=False),
        "results": serializers.ListField(child=serializers.CharField(), required=False),
    },
)

# A bulk request none of whose events was accepted: the error body, plus the counts when events were judged.
_BULK_REJECTED = inline_serializer(
    "BulkEventsRejected",
    {
        "error": serializers.CharField(),
        "field": serializers.CharField(allow_null=True),
        "message": serializers.CharField(required=False),
        "accepted": serializers.CharField(required=False),
        "duplicates": serializers.CharField(required=False),
        "rejected": serializers.CharField(required=False),
        "errors": serializers.CharField(required=False),
        "results": serializers.ListField(child=serializers.CharField(), required=False),
    },
)

_BULK_BUSY = OpenApiResponse(
    ErrorResponse,
    description="The server is parsing FLUXBILL_BULK_CONCURRENCY bulk requests already and none finished within "
    "FLUXBILL_BULK_QUEUE_SECONDS; retry after the Retry-After header's seconds.",
)

_ACCEPTED = inline_serializer("EventAccepted", {"event_id": serializers.CharField(), "message": serializers.CharField()})


class EventIngestView(_SingleEventView):
    """Flexprice: one event by event name and external customer id."""

    def ingest(self, *, data, path, key):
        try:
            _, event_id, _ = services.event_ingest(data=data, now=django_timezone.now())
        except EventRejected as exc:
            return _rejection(exc, data=data, path=path, key=key)
        return status.HTTP_202_ACCEPTED, {"event_id": event_id, "message": "Event accepted for processing"}, {}

    @extend_schema(request=FlexpriceEventRequest, responses={202: _ACCEPTED})
    def post(self, request):
        return super().post(request)


def _bulk_message(outcome) -> str:
    """'Events accepted for processing' when all were; else how many of how many, e.g. '3 of 5 events accepted
    for processing (1 duplicate), 2 rejected' (a duplicate was stored before: accepted, not stored again)."""
    taken, total = outcome.accepted + outcome.duplicates, len(outcome.results)
    if not taken:
        return f"No events accepted: {total} rejected" if total > 1 else "No events accepted"
    if not outcome.rejected:
        return "Events accepted for processing"
    duplicates = f" ({outcome.duplicates} duplicate{'s' if outcome.duplicates != 1 else ''})" if outcome.duplicates else ""
    return f"{taken} of {total} events accepted for processing{duplicates}, {outcome.rejected} rejected"


class BulkEventIngestView(_IngestView):
    """Flexprice bulk: up to 1000 events, each judged on its own; the answer is a flat map of strings."""

    throttle_scope = "bulk"

    @extend_schema(
        request=BulkEventsRequest,
        parameters=[OpenApiParameter("detail", bool, description="Add `results`: one entry per event.")],
        responses={202: _BULK_ANSWER, 400: _BULK_REJECTED, 503: _BULK_BUSY},
    )
    def post(self, request):
        with bulk_turn(request.META.get("CONTENT_LENGTH")) as turn:
            if not turn:
                response = Response(
                    error_body("This server is parsing as many bulk requests as it takes at once; retry after "
                               "the Retry-After header's seconds", None),
                    status=status.HTTP_503_SERVICE_UNAVAILABLE,
                )  # fmt: skip
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response
            try:
                return self._ingest(request)
            finally:
                # DRF keeps the parsed body on the request until the response has been sent; drop it with
                # the turn, or the next turn's body would be parsed while this one is still held.
                request._full_data = request._data = Empty

    def _ingest(self, request):
        body = request.data
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            services.rejection_record(endpoint=request.path, error="Missing required field: events (a list of events)", field="events", payload=body, key=request.auth, now=django_timezone.now())
            return Response(error_body("Missing required field: events (a list of events)", "events"), status=400)
        if not events:
            services.rejection_record(endpoint=request.path, error="events must hold at least one event", field="events", payload=body, key=request.auth, now=django_timezone.now())
            return Response(error_body("events must hold at least one event", "events"), status=400)
        limit = settings.FLUXBILL_BULK_MAX_EVENTS
        if len(events) > limit:
            raise PayloadTooLarge(f"events holds {len(events)} events; at most {limit} per request")
        outcome = services.event_ingest_bulk(events=events, now=django_timezone.now())
        answer = {
            "message": _bulk_message(outcome),
            "accepted": str(outcome.accepted),
            "duplicates": str(outcome.duplicates),
            "rejected": str(outcome.rejected),
        }
        errors = outcome.errors()
        if errors:
            services.rejections_record(endpoint=request.path, rejections=[(m, f"events[{i}]", events[i]) for i, m in errors[: services.REJECTED_PER_REQUEST]], key=request.auth, now=django_timezone.now())
            answer["errors"] = "; ".join(f"events[{i}]: {message}" for i, message in errors[:MAX_ERRORS_LISTED])
            if len(errors) > MAX_ERRORS_LISTED:
                answer["errors"] += f"; and {len(errors) - MAX_ERRORS_LISTED} more"
        if str(request.query_params.get("detail", "")).lower() in ("1", "true", "yes"):
            answer["results"] = outcome.results
        accepted_any = outcome.accepted or outcome.duplicates
        if not accepted_any:
            answer["error"] = answer.get("errors", "No events accepted")
            answer["field"] = "events"
        return Response(answer, status=status.HTTP_202_ACCEPTED if accepted_any else status.HTTP_400_BAD_REQUEST)


class EventsView(EventIngestView, ListAPIView):
    """`POST /events` ingests one Flexprice event; `GET /events` lists stored events, newest first."""

    method_scopes = {"GET": "usage.read", "POST": "usage.write"}
    method_permissions = {"GET": "metering.view_usageevent", "POST": "metering.add_usageevent"}
    serializer_class = UsageEventOutput
    queryset = UsageEvent.objects.select_related("meter", "customer")
    filterset_class = UsageEventFilter
    pagination_class = EventCursorPagination
    filter_backends = [DjangoFilterBackend]


class EventDetailView(RetrieveAPIView):
    required_scope = "usage.read"
    required_permission = "metering.view_usageevent"
    serializer_class = UsageEventOutput
    queryset = UsageEvent.objects.select_related("meter", "customer")
    lookup_value_regex = r"\d+"


class MeterUsageView(APIView):
    """Usage of one meter in calendar buckets, aggregated by the database with the meter's aggregation."""

    required_scope = "usage.read"
    required_permission = "metering.view_usageevent"

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("to", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("customer", str, description="Customer id or external_id"),
            OpenApiParameter("group_by", str, enum=list(BUCKETS)),
        ],
        responses={200: UsageReport},
    )
    def get(self, request, pk):
        query = UsageQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        if params["to"] <= params["from"]:
            return Response(error_body("to must be later than from", "to"), status=400)
        meter = get_by_id_or_key(Meter.objects.all(), pk, "lookup_key", label="Meter")
        customer_id = None
        if params.get("customer"):
            customer_id = lookups.customer_id_find(params["customer"])
            if customer_id is None:
                raise NotFound(f"Customer '{params['customer']}' not found", field="customer")
        buckets, total = usage_buckets(
            meter=meter,
            start=params["from"],
            end=params["to"],
            group_by=params["group_by"],
            customer_id=customer_id,
        )
        return Response(
            {
                "meter_id": str(meter.pk),
                "aggregation_type": meter.aggregation_type,
                "customer_id": str(customer_id) if customer_id else None,
                "group_by": params["group_by"],
                "from": params["from"],
                "to": params["to"],
                "total": decimal_to_string(total),
                "buckets": [{"start": start, "value": decimal_to_string(value)} for start, value in buckets],
            }
        )
