"""The office's dashboard under ``/office/``: sign-in by a one-time link, the overview, the
delegates. Mounted on the web application by :func:`handlers.web.office.app.build_office_app`;
the staff member acts as the :class:`bot.services.access.OfficeActor` their session carries,
through the same use cases as the chat."""
