"""The web layer: one blueprint per area; views parse input, call a service, render."""

from __future__ import annotations

from flask import Flask

from volunteer_hub.web import (
    account,
    admin,
    api,
    api_docs,
    auth,
    coordinator,
    day,
    drives,
    errors,
    intake,
    operations,
    places,
    plans,
    public,
    query,
    records,
    reports,
)


def register_blueprints(app: Flask) -> None:
    """Register every blueprint and the error pages."""
    app.register_blueprint(public.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(places.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(coordinator.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(drives.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(day.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_docs.bp)
    # SMS: personal link pages, Twilio's webhooks, the admins' outbox and texts.
    from volunteer_hub.web import links, sms_admin, webhooks

    app.register_blueprint(links.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(sms_admin.bp)
    errors.init_app(app)
    app.jinja_env.globals.update(query_args=query.query_args)
