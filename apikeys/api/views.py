from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import update_last_login
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from apikeys import selectors
from apikeys.authentication import ApiKeyPrincipal, CookieJWTAuthentication
from apikeys.filters import ApiKeyFilterSet
from apikeys.models import ApiKey
from apikeys.services import api_key_create, api_key_revoke
from fluxbill.core import permissions as perms
from fluxbill.core.errors import error_body
from fluxbill.core.schema import ErrorResponse

from .serializers import ApiKeyCreatedOutput, ApiKeyInput, ApiKeyOutput, LoginInput, RefreshInput


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """API keys. The full key appears once, in the answer to its creation."""

    queryset = ApiKey.objects.select_related("created_by")
    serializer_class = ApiKeyOutput
    filterset_class = ApiKeyFilterSet
    ordering_fields = ["created_at", "name", "last_used_at"]
    scope_resource = "api_keys"
    permission_model = "apikeys.apikey"
    action_permissions = {"create": perms.MANAGE_API_KEYS, "revoke": perms.MANAGE_API_KEYS}

    def get_queryset(self):
        return selectors.api_key_list(now=timezone.now())

    @extend_schema(request=ApiKeyInput, responses={201: ApiKeyCreatedOutput})
    def create(self, request):
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        by_key = isinstance(request.user, ApiKeyPrincipal)
        key, raw_key = api_key_create(
            now=timezone.now(),
            created_by=None if by_key else request.user,
            parent=request.user.key if by_key else None,
            **data.validated_data,
        )
        return Response(ApiKeyCreatedOutput(key, context={"raw_key": raw_key}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiKeyOutput})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        by = request.user.key if isinstance(request.user, ApiKeyPrincipal) else None
        key = api_key_revoke(key=self.get_object(), now=timezone.now(), by=by)
        return Response(ApiKeyOutput(key).data)


_TOKEN_RESPONSE = inline_serializer(
    "TokenResponse",
    {
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
        "refresh_token": serializers.CharField(required=False, help_text="On login only."),
    },
)


def _token_response(access: str, refresh: str | None) -> Response:
    lifetime = int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
    body = {"access_token": access, "token_type": "bearer", "expires_in": lifetime}
    if refresh:
        body["refresh_token"] = refresh
    response = Response(body)
    cookie = {"httponly": True, "samesite": "Strict", "secure": not settings.DEBUG and settings.SESSION_COOKIE_SECURE}
    response.set_cookie(settings.JWT_ACCESS_COOKIE, access, max_age=lifetime, **cookie)
    if refresh:
        refresh_lifetime = int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds())
        response.set_cookie(
            settings.JWT_REFRESH_COOKIE, refresh, max_age=refresh_lifetime, path="/api/v1/auth/", **cookie
        )
    return response


class LoginView(APIView):
    """Staff log in with email or username and password; the access token comes back as a cookie."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=LoginInput,
        responses={
            200: _TOKEN_RESPONSE,
            401: OpenApiResponse(ErrorResponse, description="Wrong credentials, or not a staff account."),
            429: OpenApiResponse(ErrorResponse, description="Locked out after repeated failures (for a while)."),
        },
    )
    def post(self, request):
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data.get("username")
        if not username:
            match = get_user_model().objects.filter(email__iexact=data.validated_data["email"]).first()
            username = match.get_username() if match else None
        password = data.validated_data["password"]
        if username:
            user = authenticate(request, username=username, password=password)
        else:
            # An unknown email costs one run of the hasher, as a wrong password does (Django's ModelBackend
            # does the same for an unknown username): otherwise the answer's timing tells which emails exist.
            get_user_model()().set_password(password)
            user = None
        if getattr(request, "axes_locked_out", False):  # set by django-axes' backend during authenticate()
            return Response(
                error_body("Too many failed logins for this account from this address; try again later", field="password"),
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None or not user.is_staff:
            return Response(error_body("Invalid credentials or not a staff account"), status=status.HTTP_401_UNAUTHORIZED)
        update_last_login(None, user)
        refresh = RefreshToken.for_user(user)
        return _token_response(str(refresh.access_token), str(refresh))


class RefreshView(APIView):
    """A new access token from the refresh token (cookie `refresh_token` or body `refresh`)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=RefreshInput,
        responses={
            200: _TOKEN_RESPONSE,
            401: OpenApiResponse(ErrorResponse, description="Missing, invalid or expired refresh token."),
        },
    )
    def post(self, request):
        data = RefreshInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        raw = data.validated_data.get("refresh") or request.COOKIES.get(settings.JWT_REFRESH_COOKIE)
        if not raw:
            return Response(error_body("Missing refresh token", "refresh"), status=status.HTTP_401_UNAUTHORIZED)
        try:
            refresh = RefreshToken(raw)
        except TokenError:
            return Response(error_body("Refresh token is invalid or expired", "refresh"), status=status.HTTP_401_UNAUTHORIZED)
        # The token alone says nothing of the user today: load them, so a deactivation, a password change
        # or a lost staff flag ends the session here rather than at the refresh token's expiry.
        try:
            user = CookieJWTAuthentication().get_user(refresh)
        except AuthenticationFailed:
            user = None
        if user is None or not user.is_staff:
            return Response(
                error_body("Refresh token is no longer valid for this account", "refresh"),
                status=status.HTTP_401_UNAUTHORIZED,
            )
        return _token_response(str(refresh.access_token), None)
