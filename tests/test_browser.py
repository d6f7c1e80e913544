"""The UI in real headless Chromium: ask, follow a citation, upload as organiser, screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import REPO, UI_PASSWORD, UIServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ANSWER_TIMEOUT = 60_000  # ms; the first question also warms the model up

PILOT_MD = """# Test session notes: mobile payment vans

This is a test document uploaded by the browser test.
The pilot of mobile payment vans in the governorate of Kasserine reached twelve thousand
families in its first year. The vans stop in each village once a month.
"""
PILOT_AR = """# ملاحظات جلسة تجريبية

هذه وثيقة اختبار. قامت الشاحنات المتنقلة للدفع في ولاية القصرين بخدمة اثني عشر ألف أسرة في
السنة الأولى من التجربة. تتوقف الشاحنات في كل قرية مرة واحدة في الشهر.
"""
HOSTILE_MD = """# Lighthouse keepers

Lighthouse keepers on the island trimmed the lamp wicks every evening.
<script>alert("xss")</script> The keeper wrote the weather in a logbook.
<img src=x onerror=alert("xss")> Storm nights meant no sleep for the keepers.
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
            "(run `make browser`, or as root `apt-get install -y chromium`)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_app(
    browser: Browser, server: UIServer, viewport: dict[str, int], scale: float = 1
) -> Page:
    page = browser.new_page(viewport=viewport, device_scale_factor=scale)  # type: ignore[arg-type]
    page.set_default_timeout(ANSWER_TIMEOUT)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    page.goto(server.url)
    expect(page.locator("#qa-question textarea")).to_be_visible()
    return page


def ask(page: Page, question: str) -> None:
    """Type a question, press Enter and wait until its answer is in the chat."""
    answers = page.locator("#qa-chat .qa-answer")
    before = answers.count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(answers).to_have_count(before + 1)
    page.wait_for_timeout(500)  # the chat scrolls to the new question


def shoot(page: Page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def test_ask_shows_cited_cards_and_the_pdf_page_opens(
    browser: Browser, ui_server: UIServer
) -> None:
    page = open_app(browser, ui_server, LAPTOP)
    ask(page, "In which year was Argentina's Universal Child Allowance (AUH) introduced?")
    cards = page.locator("#qa-chat .qa-answer").last.locator(".qa-card")
    expect(cards.first).to_be_visible()
    assert cards.count() == 5
    expect(cards.first.locator(".qa-cite")).not_to_be_empty()
    assert cards.locator("mark").count() >= 1
    pdf_link = cards.locator('a.qa-open[href*="#page="]').first
    expect(pdf_link).to_contain_text("Open the PDF at page")
    href = pdf_link.get_attribute("href") or ""
    assert re.fullmatch(r"/documents/[0-9a-f]{16}/file/report_anses\.pdf#page=\d+", href), href
    response = page.request.get(ui_server.url.rstrip("/") + href.split("#")[0])
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    recording = cards.locator('a.qa-open[href^="https://example.org/recordings/"]')
    if recording.count():
        expect(recording.first).to_contain_text("Play the recording at")
    shoot(page, "ask.png")
    page.close()


def test_a_recording_card_plays_from_the_cited_second_and_a_slide_is_cited(
    browser: Browser, ui_server: UIServer
) -> None:
    page = open_app(browser, ui_server, LAPTOP)
    ask(page, "What did ANSES agree to share with the Tunisian team after the first session?")
    card = page.locator("#qa-chat .qa-answer").last.locator(".qa-card").first
    # Recordings are cited as "Session title · start–end", like the session's captions.
    expect(card.locator(".qa-cite")).to_contain_text(
        "Argentina's National Social Security Administration (ANSES) · 00:0"
    )
    label = card.locator(".qa-cite").inner_text()
    start = label.rsplit("·", 1)[-1].strip().split("–")[0]
    hours, minutes, seconds = (int(part) for part in start.split(":"))
    second = hours * 3600 + minutes * 60 + seconds
    assert second > 0, label  # the answer is said late in the recording, not at its start
    player = card.locator("audio.qa-player")
    expect(player).to_have_attribute(
        "src", re.compile(rf"^/documents/[0-9a-f]{{16}}/file/closing_remarks\.ogg#t={second}$")
    )
    expect(card.locator("a.qa-open")).to_contain_text(f"Play the recording at {start}")
    # The browser loads the served file and seeks to the cited second (a media fragment).
    page.wait_for_function("el => el.readyState >= 1", arg=player.element_handle(), timeout=30_000)
    position = player.evaluate("el => el.currentTime")
    assert abs(position - second) < 1, position
    duration = player.evaluate("el => el.duration")
    assert duration > 140, duration
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "recording.png"))

    ask(page, "Which body shares tax records and declared income through SINTyS?")
    cites = page.locator("#qa-chat .qa-answer").last.locator(".qa-cite")
    expect(cites.first).to_contain_text("Session 2 slides: SINTyS (Eduardo Brau), slide 3")
    page.close()


def _two_page_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.drawString(72, 760, "Field notes from Sfax: an introduction.")
    for line in range(14):  # a full first page, so that page 2 is a passage of its own
        pdf.drawString(
            72, 730 - 18 * line, f"Visit {line + 1}: the team met local officials and families."
        )
    pdf.showPage()
    pdf.drawString(72, 760, "The Sfax pilot paid school grants to 4,200 pupils in its first term.")
    pdf.showPage()
    pdf.save()


def test_a_citation_of_a_file_added_from_outside_the_corpus_opens_its_page(
    browser: Browser, ui_server: UIServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "Downloads"
    elsewhere.mkdir()
    report = elsewhere / "sfax_field_notes.pdf"
    _two_page_pdf(report)
    added = ui_server.assistant.add([report])  # as `qa-assistant add ~/Downloads/…` would
    assert added.files[0].status == "indexed", added
    doc_id = added.files[0].doc_id
    try:
        page = open_app(browser, ui_server, LAPTOP)
        ask(page, "How many pupils did the Sfax pilot pay school grants to?")
        card = page.locator("#qa-chat .qa-answer").last.locator(".qa-card").first
        expect(card.locator(".qa-cite")).to_contain_text("Sfax field notes, p")
        expect(card).not_to_contain_text(str(elsewhere))  # no server path is shown
        link = card.locator("a.qa-open")
        expect(link).to_have_attribute(
            "href", re.compile(rf"^/documents/{doc_id}/file/sfax_field_notes\.pdf#page=[12]$")
        )
        with page.context.expect_page() as opened:
            link.click()
        tab = opened.value
        tab.wait_for_load_state()
        assert re.search(rf"/documents/{doc_id}/file/sfax_field_notes\.pdf#page=[12]$", tab.url)
        response = page.request.get(tab.url.split("#")[0])
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF")
        tab.close()
        page.close()
    finally:
        ui_server.assistant.remove(doc_id)


def test_a_vote_on_a_card_reaches_the_organisers_questions_view(
    browser: Browser, ui_server: UIServer
) -> None:
    page = open_app(browser, ui_server, LAPTOP)
    question = "Which body shares tax records and declared income through SINTyS?"
    ask(page, question)
    card = page.locator("#qa-chat .qa-answer").last.locator(".qa-card").first
    up = card.locator("button.qa-up")
    up.click()
    expect(up).to_have_class(re.compile(r"\bqa-voted\b"))
    ask(page, "What did the moon landing cost?")  # not covered: logged as unanswered
    page.get_by_role("tab", name="Library").click()
    page.get_by_label("Organiser password").fill(UI_PASSWORD)
    page.locator("#qa-questions").get_by_text("Questions participants asked").click()
    page.get_by_role("button", name="Show questions").click()
    table = page.locator("#qa-question-table")
    expect(table).to_contain_text(question)
    expect(table).to_contain_text("What did the moon landing cost?")
    summary = next(s for s in ui_server.assistant.question_summaries() if s.question == question)
    assert summary.helpful >= 1
    page.locator("#qa-questions").scroll_into_view_if_needed()
    page.locator("#qa-questions").screenshot(path=str(SCREENSHOTS / "questions.png"))
    page.close()


def test_off_topic_question_says_not_covered(browser: Browser, ui_server: UIServer) -> None:
    page = open_app(browser, ui_server, LAPTOP)
    ask(page, "What were the football results last weekend?")
    reply = page.locator("#qa-chat .qa-answer").last
    expect(reply).to_contain_text("Not covered in the session materials")
    expect(reply).to_contain_text("Closest sessions")
    assert reply.locator(".qa-card").count() == 0
    page.close()


def test_organiser_uploads_and_participants_get_answers(
    browser: Browser, ui_server: UIServer, tmp_path: Path
) -> None:
    english = tmp_path / "kasserine pilot.md"
    english.write_text(PILOT_MD, encoding="utf-8")
    arabic = tmp_path / "kasserine_ar.md"
    arabic.write_text(PILOT_AR, encoding="utf-8")
    page = open_app(browser, ui_server, LAPTOP)
    page.get_by_role("tab", name="Library").click()
    upload = page.locator("#qa-upload")
    upload.locator("input[type=file]").set_input_files([str(english), str(arabic)])
    expect(upload).to_contain_text("kasserine_ar")
    add = page.get_by_role("button", name="Add to the library")

    add.click()  # no password yet: refused
    refusal = page.get_by_text("Wrong or missing organiser password").first
    expect(refusal).to_be_visible()
    page.get_by_role("button", name="Close", exact=True).first.click()
    expect(refusal).to_be_hidden()
    expect(page.get_by_role("button", name="Close", exact=True)).to_have_count(0)
    assert not (ui_server.corpus / "uploads" / "2022-12-14-test").exists()

    page.get_by_label("Organiser password").fill(UI_PASSWORD)
    page.get_by_label("Session id").fill("2022-12-14-test")
    page.get_by_label("Session title").fill("Test session: mobile payment vans")
    add.click()
    expect(page.locator("#qa-upload-summary")).to_contain_text("2 indexed")
    report = page.locator("#qa-report")
    expect(report).to_contain_text("uploads/2022-12-14-test/kasserine_pilot.md")
    expect(report).to_contain_text("indexed")
    expect(page.locator("#qa-documents")).to_contain_text("Test session notes: mobile payment vans")
    shoot(page, "library.png", full_page=True)

    page.get_by_role("tab", name="Ask").click()
    ask(page, "How many families did the mobile payment vans in Kasserine reach?")
    first = page.locator("#qa-chat .qa-answer").last.locator(".qa-card").first
    expect(first.locator(".qa-cite")).to_contain_text("Test session notes: mobile payment vans")
    ask(page, "كم عدد الأسر التي خدمتها الشاحنات المتنقلة في القصرين؟")
    arabic_text = page.locator("#qa-chat .qa-answer").last.locator('.qa-text[lang="ar"]')
    expect(arabic_text.first).to_have_attribute("dir", "rtl")
    assert page.dialogs == []  # type: ignore[attr-defined]
    page.close()


def test_markup_in_documents_is_shown_not_run(
    browser: Browser, ui_server: UIServer, tmp_path: Path
) -> None:
    hostile = tmp_path / "lighthouse.md"
    hostile.write_text(HOSTILE_MD, encoding="utf-8")
    page = open_app(browser, ui_server, LAPTOP)
    page.get_by_role("tab", name="Library").click()
    page.get_by_label("Organiser password").fill(UI_PASSWORD)
    page.locator("#qa-upload input[type=file]").set_input_files(str(hostile))
    expect(page.locator("#qa-upload")).to_contain_text("lighthouse")
    page.get_by_role("button", name="Add to the library").click()
    expect(page.locator("#qa-upload-summary")).to_contain_text("1 indexed")

    page.get_by_role("tab", name="Ask").click()
    ask(page, "What did the lighthouse keepers do every evening?")
    card = page.locator("#qa-chat .qa-answer").last.locator(".qa-card").first
    expect(card.locator(".qa-cite")).to_contain_text("Lighthouse keepers")
    expect(card.locator(".qa-text")).to_contain_text('<script>alert("xss")</script>')
    expect(card.locator(".qa-text")).to_contain_text('<img src=x onerror=alert("xss")>')
    assert page.locator("#qa-chat img[src=x], #qa-chat script").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []  # type: ignore[attr-defined]

    # Remove it again through the Library tab.
    page.get_by_role("tab", name="Library").click()
    page.locator("#qa-documents").get_by_text("Lighthouse keepers").click()
    expect(page.get_by_label("Chosen document")).to_have_value(re.compile("^Lighthouse keepers"))
    page.get_by_role("button", name="Remove from the index").click()
    expect(page.get_by_text("Removed Lighthouse keepers")).to_be_visible()
    assert all(d.title != "Lighthouse keepers" for d in ui_server.assistant.list_documents())
    page.close()


def test_phone_layout(browser: Browser, ui_server: UIServer) -> None:
    page = open_app(browser, ui_server, PHONE, scale=2)  # a crisp screenshot
    ask(page, "¿Qué es el Plan 1000 Días y hasta qué edad del niño se paga?")
    card = page.locator("#qa-chat .qa-answer").last.locator(".qa-card").first
    expect(card).to_be_visible()
    box = card.bounding_box()
    assert box is not None and box["width"] >= 300, box  # the cards use the phone's width
    shoot(page, "ask-phone.png")
    page.close()
