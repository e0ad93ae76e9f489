"""Bearer-token authentication for the API: `Authorization: Bearer slw_…`."""

from ninja.security import HttpBearer

from api.services import token_authenticate


class TokenAuth(HttpBearer):
    openapi_description = "A personal API token, created under your user menu → API tokens."

    def authenticate(self, request, token):
        user = token_authenticate(raw=token)
        if user is not None:
            # The rest of Slipway (permission helper, audit) reads request.user.
            request.user = user
        return user
