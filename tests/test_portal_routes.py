"""Every portal and mobile route, generated from the app's URL map: each kind of principal reaches only
its own side. A route joins by being registered; a portal page anyone may open says so with @public.

- a portal page that is not public: a signed-out visitor and a staff session are sent to the portal's
  sign-in, whatever the method;
- a public portal page: answers without an error to anyone;
- a mobile page: a signed-out visitor and a resident's session are sent to the staff sign-in;
- a staff page or API: a resident's session reaches none of it.
(The test app takes forms without their token: the route's own gate is what is tried here.)
"""

from app.web.model_view import CrmModelView
from app.portal.blueprint import PUBLIC
from tests import factories


def _url(rule):
    values = {name: 1 if type(conv).__name__ == "IntegerConverter" else "x" for name, conv in rule._converters.items()}
    return rule.build(values)[1]


def _rules(app, prefix):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(prefix)]


def _methods(rule):
    return sorted(rule.methods & {"GET", "POST"})


def test_every_resident_page_sends_visitors_and_staff_to_the_portal_sign_in(app, login):
    rules = [rule for rule in _rules(app, "portal.") if rule.endpoint not in PUBLIC]
    assert len(rules) > 20
    staff = login("Admin")
    for rule in rules:
        for client in (app.test_client(), staff):
            for method in _methods(rule):
                response = client.open(_url(rule), method=method)
                assert response.status_code == 302, (rule.rule, method)
                assert "/portal/sign-in" in response.headers["Location"], (rule.rule, method)


def test_public_portal_pages_answer_anyone_without_an_error(app):
    rules = [rule for rule in _rules(app, "portal.") if rule.endpoint in PUBLIC]
    assert {rule.endpoint for rule in rules} == PUBLIC
    for rule in rules:
        for method in _methods(rule):
            assert app.test_client().open(_url(rule), method=method).status_code < 500, (rule.rule, method)


def test_every_mobile_page_sends_visitors_and_residents_to_the_staff_sign_in(app, ctx, resident_login):
    rules = _rules(app, "mobile.")
    assert len(rules) >= 8
    resident = resident_login(factories.customer(name="住户甲").id)
    for rule in rules:
        for client in (app.test_client(), resident):
            for method in _methods(rule):
                response = client.open(_url(rule), method=method)
                assert response.status_code == 302, (rule.rule, method)
                assert "/login/" in response.headers["Location"], (rule.rule, method)


def test_a_residents_session_reaches_no_staff_page_or_api(app, ctx, resident_login):
    resident = resident_login(factories.customer(name="住户乙").id)
    lists = [
        f"/{type(view).__name__.lower()}/list/" for view in app.appbuilder.baseviews if isinstance(view, CrmModelView)
    ]
    assert len(lists) > 30
    for url in lists:
        response = resident.get(url)
        assert response.status_code == 302 and "/login/" in response.headers["Location"], url
    apis = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/") and rule.rule.endswith("/")]
    assert len(apis) > 30
    for rule in apis:
        if "GET" in rule.methods and not rule.arguments:
            assert resident.get(rule.rule).status_code in (401, 404), rule.rule
