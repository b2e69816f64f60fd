"""The authorization server's routes: RFC 8414 metadata at the origin, the endpoints under
/oauth/ (authorize with our consent page, token, revocation, introspection, RFC 7591
registration)."""

from django.urls import include, path
from oauth2_provider import views as oauth_views

from mcp_core.oauth.consent import ConsentView

endpoints = (
    [
        path("authorize/", ConsentView.as_view(), name="authorize"),
        path("token/", oauth_views.TokenView.as_view(), name="token"),
        path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
        path("introspect/", oauth_views.IntrospectTokenView.as_view(), name="introspect"),
        path("register/", oauth_views.DynamicClientRegistrationView.as_view(), name="dcr-register"),
        path(
            "register/<str:client_id>/",
            oauth_views.DynamicClientRegistrationManagementView.as_view(),
            name="dcr-register-management",
        ),
    ],
    "oauth2_provider",
)

urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        oauth_views.OAuthServerMetadataView.as_view(),
        name="oauth-authorization-server",
    ),
    path("oauth/", include(endpoints)),
]
