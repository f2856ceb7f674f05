"""A fuzz run of the REST API from its own OpenAPI document (schemathesis generates the requests
from it): no request may end in a server error. The security endpoints (users, roles, login) are
left out: fuzzing them would rewrite the accounts every other test signs in with."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import PASSWORD, ROLE_USERS

EXAMPLES = 8


@pytest.fixture(scope="module")
def admin(app):
    client = app.test_client()
    client.post("/login/", data={"username": ROLE_USERS["Admin"], "password": PASSWORD})
    return client


def test_no_request_ends_in_a_server_error(app, admin):
    document = admin.get("/api/v1/_openapi").get_json()
    document["paths"] = {path: item for path, item in document["paths"].items()
                         if "/security/" not in path and "_openapi" not in path and "/menu/" not in path}
    schema = schemathesis.openapi.from_dict(document)
    errors, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            kwargs = case.as_transport_kwargs(base_url="http://localhost")
            url = kwargs["url"].replace("http://localhost", "", 1)
            response = admin.open(url, method=kwargs["method"], query_string=kwargs.get("params"),
                                  json=kwargs.get("json"), data=kwargs.get("data"),
                                  headers={k: v for k, v in (kwargs.get("headers") or {}).items()
                                           if k.lower() not in ("cookie", "content-length")})
            if response.status_code >= 500:
                errors.append(f"{kwargs['method']} {url} {kwargs.get('json')!r} -> {response.status_code}")

        run()
    assert operations > 20
    assert errors == [], "\n".join(sorted(set(errors)))
