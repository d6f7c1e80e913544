"""Generate the demo slide deck and the demo recording.

Writes:
- ``corpus/2022-11-23-sintys/slides_sintys.pptx``: six slides for session 2 with a table, a
  group of shapes and speaker notes (python-pptx);
- ``corpus/2022-11-10-anses/closing_remarks.ogg``: about a minute of synthetic speech, the
  moderator's closing remarks of session 1 (espeak-ng, then Opus in Ogg with PyAV).

Both files are committed; this script documents how they were made and remakes them.
espeak-ng comes from Debian (`apt-get install espeak-ng`).

Usage:  .venv/bin/python scripts/make_demo_media.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
DECK = CORPUS / "2022-11-23-sintys" / "slides_sintys.pptx"
RECORDING = CORPUS / "2022-11-10-anses" / "closing_remarks.ogg"

# The moderator's closing remarks; each paragraph is read with a pause after it.
REMARKS = [
    "Closing remarks of the first session.",
    "Thank you, Florencia, and thank you to our colleagues from the Tunisian Ministry of "
    "Social Affairs. Let me sum up three lessons from today.",
    "First, A.N.S.E.S. organises its benefits around the life cycle, not around a formal job.",
    "Second, the same agency pays the Universal Child Allowance and the family allowances, so "
    "a child keeps receiving support when a parent loses a registered job.",
    "Third, mobile units and active search bring the agency to the neighbourhoods where "
    "children have no coverage.",
    "In the discussion, our Tunisian colleagues asked two questions. The first was how "
    "Argentina finds informal workers who never paid contributions. Florencia explained that "
    "data cross-checks show which families receive nothing, and that field teams then visit "
    "the people who do not appear in any database.",
    "The second question was how to avoid double payments when the nation and the provinces "
    "both run programmes. The answer was a set of compatibility rules agreed within the "
    "Federal Social Security Network, so that each benefit says which others it can be "
    "combined with.",
    "Several participants also noted that the 1,000 Days Plan pays more when the caregiver "
    "is a woman, and that it is tied to health check-ups and vaccinations. Tunisia is "
    "studying a similar link between its cash transfers and early childhood health visits.",
    "As next steps, the Tunisian team asked for the legal texts behind the Federal Social "
    "Security Network, and A.N.S.E.S. agreed to share its field guide for the mobile units.",
    "Our second session, on the twenty third of November, will present the Sintis "
    "information system. The slides, and this recording, will be shared with all participants.",
]


def make_deck(target: Path) -> None:
    """The SINTyS deck: title, definition, a table of bodies, grouped uses, lessons, notes."""
    from pptx import Presentation
    from pptx.util import Cm, Pt

    deck = Presentation()
    deck.core_properties.title = "SINTyS: sharing social data across public bodies"
    deck.core_properties.author = "Eduardo Brau"
    title_layout, content_layout, title_only = deck.slide_layouts[0], deck.slide_layouts[1], 5

    def notes(slide: object, text: str) -> None:
        slide.notes_slide.notes_text_frame.text = text  # type: ignore[attr-defined]

    slide = deck.slides.add_slide(title_layout)
    slide.shapes.title.text = "SINTyS: sharing social data across public bodies"
    slide.placeholders[1].text = "Eduardo Brau, CNCPS · Webinar session 2 · 23 November 2022"

    def bullets(title: str, lines: list[str], speaker_notes: str) -> None:
        slide = deck.slides.add_slide(content_layout)
        slide.shapes.title.text = title
        frame = slide.placeholders[1].text_frame
        frame.text = lines[0]
        for line in lines[1:]:
            frame.add_paragraph().text = line
        notes(slide, speaker_notes)

    bullets(
        "What SINTyS is",
        [
            "The National Identification, Tax and Social Information System",
            "It coordinates the exchange of information between the databases of public bodies",
            "It keeps no central copy: each query goes to the source, on demand",
            "Each body stays the owner and the guardian of its own data",
        ],
        "Stress that SINTyS is a broker, not a warehouse: nothing is copied into a central "
        "database, which keeps the data up to date and limits privacy risks.",
    )

    slide = deck.slides.add_slide(deck.slide_layouts[title_only])
    slide.shapes.title.text = "Who shares what"
    rows = [
        ("Body", "Data it shares through SINTyS"),
        ("ANSES", "Social security benefits, pensions and contributions"),
        ("RENAPER", "The national registry of persons: identity and civil status"),
        ("AFIP", "Tax records and declared income"),
        ("Provinces", "Provincial social programmes and their beneficiaries"),
    ]
    table = slide.shapes.add_table(len(rows), 2, Cm(1.5), Cm(4), Cm(22), Cm(8)).table
    for row_number, (body, data) in enumerate(rows):
        table.cell(row_number, 0).text = body
        table.cell(row_number, 1).text = data
    notes(slide, "More than four hundred databases are connected through agreements.")

    slide = deck.slides.add_slide(deck.slide_layouts[title_only])
    slide.shapes.title.text = "What the exchanges are used for"
    group = slide.shapes.add_group_shape()
    uses = [
        "Checking eligibility before a benefit is granted",
        "Avoiding double payments between national and provincial programmes",
        "Finding people who are entitled to support but receive none",
    ]
    for number, text in enumerate(uses):
        box = group.shapes.add_textbox(Cm(1.5), Cm(4 + 3 * number), Cm(22), Cm(2.5))
        box.text_frame.text = text
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(22)
    notes(slide, "Give the example of the active search with ANSES mobile units.")

    bullets(
        "Lessons for Tunisia",
        [
            "Agree on a unique identifier before connecting the systems",
            "Start with the legal framework on data protection and data sharing",
            "Connect a few high-value registries first, then extend",
            "Interoperability is about agreements and trust more than technology",
        ],
        "Answer to the Tunisian question on the unique social identifier: the legal "
        "framework comes first; once trust is lost it is very hard to win back.",
    )

    bullets(
        "Questions",
        ["Thank you", "Slides and recording: shared with all participants after the session"],
        "Open the floor to the Tunisian delegation.",
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    deck.save(str(target))


def make_recording(target: Path) -> None:
    """The closing remarks, spoken by espeak-ng and encoded as Opus in Ogg (small)."""
    import av

    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "remarks.wav"
        text = "\n\n".join(REMARKS)
        subprocess.run(
            ["espeak-ng", "-v", "en-gb", "-s", "150", "-g", "8", "-w", str(wav), text],
            check=True,
        )
        with av.open(str(wav)) as source, av.open(str(target), "w", format="ogg") as output:
            stream = output.add_stream("libopus", rate=48000)
            stream.bit_rate = 16000
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            for frame in source.decode(audio=0):
                for resampled in resampler.resample(frame):
                    for packet in stream.encode(resampled):
                        output.mux(packet)
            for packet in stream.encode(None):
                output.mux(packet)


def main() -> None:
    """Write both files (or only the one named: deck | recording)."""
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    if which in ("both", "deck"):
        make_deck(DECK)
        print(f"wrote {DECK}")
    if which in ("both", "recording"):
        make_recording(RECORDING)
        print(f"wrote {RECORDING}")


if __name__ == "__main__":
    main()
