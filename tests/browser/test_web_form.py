"""The public web form in Chromium: a person fills it in with an attachment and sees the
reference of their new ticket; the embedded variant works inside a cross-origin iframe."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import Page, expect

from patron.people.models import CustomFieldDefinition
from patron.tickets.models import Attachment, Ticket


@contextmanager
def customer_site(body: str) -> Iterator[str]:
    """A stand-in for a customer's web site: another site (localhost, not 127.0.0.1) serving
    `body`. A real loopback server, since Chromium refuses a page it cannot place on the network
    (a Playwright-fulfilled one) to frame a loopback address."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            content = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test shows what matters."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_visitor_sends_a_request_with_an_attachment_and_sees_its_reference(
    page: Page, tmp_path: Path
) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="ticket", key="plan", label="Your plan", field_type="choice",
        choices=["Free", "Pro"], public=True,
    )  # fmt: skip
    screenshot = tmp_path / "error.txt"
    screenshot.write_text("Error 500 at checkout\n")

    page.goto("/support/new")
    expect(page.locator(".topbar a.brand")).to_be_visible()
    page.get_by_label("Your name").fill("Sam Ortiz")
    page.get_by_label("Your email address").fill("Sam@Example.org")
    page.get_by_label("Subject").fill("Checkout fails")
    page.get_by_label("How can we help?").fill("Paying by card shows an error page.")
    page.get_by_label("Your plan").select_option("Pro")
    page.get_by_label("Attachments").set_input_files(screenshot)
    page.get_by_role("button", name="Send request").click()

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    ticket = Ticket.objects.get()
    expect(page.locator(".reference")).to_have_text(f"Your request is #{ticket.number}.")
    assert ticket.channel == "web"
    assert ticket.custom_fields == {"plan": "Pro"}
    assert ticket.requester.primary_email == "Sam@example.org"
    attachment = Attachment.objects.get(message__ticket=ticket)
    assert (attachment.filename, attachment.size) == ("error.txt", 22)


def test_the_embedded_form_works_inside_an_iframe_on_another_site(
    page: Page, live_url: str
) -> None:
    # The snippet from docs/web-form.md, on another site: our cookies are third-party there.
    snippet = (
        f'<iframe src="{live_url}/support/new?embed=1" title="Contact support" '
        'style="width:100%;height:720px;border:0"></iframe>'
    )
    with customer_site(snippet) as site:
        page.goto(site)
        frame = page.frame_locator("iframe")
        expect(frame.get_by_role("heading", name="Contact support")).to_be_visible()
        expect(frame.locator(".topbar")).to_have_count(0)
        frame.get_by_label("Your email address").fill("embed@example.net")
        frame.get_by_label("Subject").fill("From the iframe")
        frame.get_by_label("How can we help?").fill("Sent from your widget on our site.")
        frame.get_by_role("button", name="Send request").click()

        reference = frame.locator(".reference")
        expect(reference).to_have_text(re.compile(r"Your request is #\d+\."))
    ticket = Ticket.objects.get()
    expect(reference).to_have_text(f"Your request is #{ticket.number}.")
    assert ticket.subject == "From the iframe"
    assert page.url == site  # the visitor stayed on the customer's page
