"""Generate the demo PDF report on session 1 (ANSES, 10 November 2022).

Writes ``corpus/2022-11-10-anses/report_anses.pdf``. The layout uses an explicit
page break after every section, so each physical page holds one known section:

    page 1  title page, about this report, contents
    page 2  1. ANSES: origins and reforms
    page 3  2. A life-cycle approach to benefits (AUH, 1,000 Days Plan)
    page 4  3. Coordination and territorial reach (Federal Social Security Network)
    page 5  4. Discussion with Tunisian participants and lessons for Tunisia

The questions in ``tests/data/demo_questions.jsonl`` cite these page numbers, so
keep every section on its own page when editing. The output is deterministic
(``invariant=1``): running the script twice produces byte-identical files.

Usage:  .venv/bin/python scripts/make_demo_report.py [output.pdf]
"""

from __future__ import annotations

import sys
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    ListFlowable,
    ListItem,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "corpus" / "2022-11-10-anses" / "report_anses.pdf"

TITLE = "Argentina's National Social Security Administration (ANSES): Report on Session 1"
SERIES = (
    "Reforms of social protection systems: South-South and triangular cooperation "
    "initiative in the context of the Maghreb"
)

_base = getSampleStyleSheet()
BODY = ParagraphStyle(
    "Body",
    parent=_base["BodyText"],
    fontName="Helvetica",
    fontSize=10.5,
    leading=14.5,
    spaceAfter=7,
)
SMALL = ParagraphStyle(
    "Small", parent=BODY, fontSize=9, leading=12, textColor=colors.HexColor("#444444")
)
H1 = ParagraphStyle(
    "H1",
    parent=_base["Heading1"],
    fontName="Helvetica-Bold",
    fontSize=17,
    leading=21,
    spaceAfter=10,
    textColor=colors.HexColor("#1d3d6b"),
)
H2 = ParagraphStyle(
    "H2",
    parent=_base["Heading2"],
    fontName="Helvetica-Bold",
    fontSize=12.5,
    leading=16,
    spaceBefore=6,
    spaceAfter=5,
    textColor=colors.HexColor("#1d3d6b"),
)
COVER_SERIES = ParagraphStyle(
    "CoverSeries",
    parent=BODY,
    fontSize=11,
    leading=15,
    alignment=TA_CENTER,
    textColor=colors.HexColor("#555555"),
)
COVER_TITLE = ParagraphStyle("CoverTitle", parent=H1, fontSize=24, leading=30, alignment=TA_CENTER)
COVER_SUB = ParagraphStyle("CoverSub", parent=BODY, fontSize=13, leading=18, alignment=TA_CENTER)
CELL = ParagraphStyle("Cell", parent=BODY, fontSize=9.5, leading=12.5, spaceAfter=0)
CELL_B = ParagraphStyle("CellB", parent=CELL, fontName="Helvetica-Bold")


def para(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(text, style)


def bullets(items: list[str], style: ParagraphStyle = BODY) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(i, style), leftIndent=14) for i in items],
        bulletType="bullet",
        start="\u2013",
        leftIndent=14,
        bulletFontSize=10,
    )


def table(rows: list[list[str]], widths: list[float]) -> Table:
    data = [[Paragraph(c, CELL_B if r == 0 else CELL) for c in row] for r, row in enumerate(rows)]
    t = Table(data, colWidths=widths, hAlign="LEFT")
    t.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde6f2")),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9aa9bf")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return t


def title_page() -> list:
    return [
        Spacer(1, 2.2 * cm),
        para(SERIES, COVER_SERIES),
        Spacer(1, 1.2 * cm),
        para("Argentina's National Social Security Administration (ANSES)", COVER_TITLE),
        Spacer(1, 0.4 * cm),
        para(
            "Report on Session 1 of the Tunisia&#8211;Argentina exchange<br/>Webinar held on 10 November 2022",
            COVER_SUB,
        ),
        Spacer(1, 0.6 * cm),
        para("International Policy Centre for Inclusive Growth (IPC-IG) and UNICEF", COVER_SUB),
        Spacer(1, 1.6 * cm),
        para("About this report", H2),
        para(
            "This report records the first of two online sessions in which Argentinian and Tunisian "
            "officials compared notes on the reform of social protection systems. The session was "
            "closed to stakeholders from the two countries and was held with simultaneous "
            "interpretation. It consisted of a presentation by Florencia Hiquis, Head of the Programme "
            "for Orientation and Articulation of Children, Youth, Gender and Diversity at ANSES, "
            "followed by questions from Tunisian participants. The session was moderated by IPC-IG."
        ),
        para(
            "The report was prepared by the organisers for participants. It paraphrases the discussion "
            "and does not represent an official position of the Argentinian or Tunisian governments."
        ),
        Spacer(1, 0.5 * cm),
        para("Contents", H2),
        table(
            [
                ["Section", "Page"],
                ["1. ANSES: origins and reforms", "2"],
                ["2. A life-cycle approach to benefits", "3"],
                ["3. Coordination and territorial reach", "4"],
                ["4. Discussion with Tunisian participants and lessons for Tunisia", "5"],
            ],
            [13.0 * cm, 2.0 * cm],
        ),
    ]


def section_history() -> list:
    return [
        para("1. ANSES: origins and reforms", H1),
        para(
            "The National Social Security Administration (Administraci\u00f3n Nacional de la Seguridad "
            "Social, ANSES) was established at the start of the 1990s. Its original mandate was limited: "
            "it paid retirement pensions and the family allowances of employees in registered, formal jobs. "
            "Protection therefore followed a contributory logic, in which rights were earned through "
            "a formal employment relationship."
        ),
        para(
            "Ms Hiquis stressed why this design fell short in Argentina. A large part of the workforce "
            "earns its living informally: domestic workers, rural labourers and people living from "
            "occasional jobs. Under a purely contributory model, these households, and the children in "
            "them, remained largely outside social security."
        ),
        para("Reforms that reshaped the agency", H2),
        para(
            "Over roughly two decades, a succession of laws widened the role of ANSES. Two milestones "
            "featured in the presentation. In 2008 the pension system returned to public management "
            "and its administration was entrusted to ANSES. In 2009 the Universal Child Allowance "
            "(Asignaci\u00f3n Universal por Hijo, AUH) extended the logic of the family allowance to the "
            "children of unemployed parents and of parents working in the informal economy."
        ),
        para(
            "These changes made ANSES grow considerably and obliged it to reorganise. From an "
            "institution that mainly paid pensions, it became the central agency of the country's "
            "social protection system. According to the speaker, the main results were a marked "
            "increase in coverage, above all among groups that had historically been excluded "
            "(low-income households, women and people living in remote areas), and closer working "
            "relations with the other organisations active in social protection."
        ),
        Spacer(1, 0.2 * cm),
        table(
            [
                ["Period", "Change described in the presentation"],
                [
                    "Early 1990s",
                    "ANSES created to pay pensions and formal-sector family allowances.",
                ],
                ["2008", "Pension system returns to public management, administered by ANSES."],
                [
                    "2009",
                    "Universal Child Allowance (AUH) created for children of unemployed and informal workers.",
                ],
                [
                    "Following years",
                    "Growth and restructuring of ANSES; new life-cycle benefits such as the "
                    "1,000 Days Plan; creation of the Federal Social Security Network.",
                ],
            ],
            [3.2 * cm, 12.8 * cm],
        ),
    ]


def section_life_cycle() -> list:
    return [
        para("2. A life-cycle approach to benefits", H1),
        para(
            "A central message of the session was that ANSES does not grant benefits according to "
            "whether a person has a job. Instead, benefits are organised around the stages of the "
            "life cycle, so that the relevant question is what a person needs at a given moment of "
            "life rather than how he or she is employed."
        ),
        table(
            [
                ["Life stage", "Support mentioned in the session"],
                [
                    "Pregnancy",
                    "Allowance during pregnancy, linked to antenatal check-ups (1,000 Days Plan).",
                ],
                [
                    "Early childhood (0 to 3 years)",
                    "1,000 Days Plan allowance, with higher amounts for women caregivers.",
                ],
                [
                    "Childhood and adolescence",
                    "Family allowances for children of formal workers; AUH for children "
                    "of unemployed and informal workers.",
                ],
                ["School age", "Support tied to school attendance."],
                [
                    "Old age",
                    "Contributory pensions, and a universal pension for people without enough years of contributions.",
                ],
            ],
            [4.6 * cm, 11.4 * cm],
        ),
        Spacer(1, 0.3 * cm),
        para("The Universal Child Allowance (AUH)", H2),
        para(
            "The AUH brought the children of informal and unemployed workers into a benefit that had "
            "previously been reserved for the children of registered employees. Payment is conditional "
            "on health check-ups, vaccinations and school attendance, which makes the allowance a "
            "lever for access to health and education as well as a source of income."
        ),
        para("The 1,000 Days Plan", H2),
        para(
            "Ms Hiquis described the 1,000 Days Plan as a paradigm shift. The allowance starts during "
            "pregnancy and continues until the child's third birthday, a period of about one thousand "
            "days that is decisive for health and development. The plan explicitly recognises that care "
            "responsibilities fall unevenly on women, and it therefore pays higher amounts when the "
            "person providing care is a woman."
        ),
        para(
            "The plan also accompanies mothers from early pregnancy: the allowance is linked to "
            "regular health controls for the pregnant woman and, after birth, for the child. In the "
            "speaker's words, money and health care go together, which is what ANSES means by an "
            "integrated approach rather than a simple cash transfer."
        ),
    ]


def section_coordination() -> list:
    return [
        para("3. Coordination and territorial reach", H1),
        para("Contributory and non-contributory schemes in one agency", H2),
        para(
            "ANSES administers both contributory and non-contributory schemes. The same agency pays "
            "the family allowance of a formal employee and the AUH of an informal worker, so when a "
            "mother who receives the AUH takes up a registered job, her child moves to the contributory "
            "family allowance without any interruption in payments."
        ),
        para(
            "This coordination is what allows the system to reach informal workers who never paid "
            "social security contributions. The speaker underlined that this situation mostly affects "
            "women, who are over-represented in informal and care work. Many women reached retirement "
            "age with short contribution records; pension moratoriums and the recognition of years "
            "spent raising children as contribution years opened access to a pension for them."
        ),
        para("Presence across the country", H2),
        para(
            "ANSES has offices in practically every city. It also operates mobile units that travel to "
            "neighbourhoods and carry out active search: rather than waiting for people to come to an "
            "office, staff go to them, giving priority to areas where data show children without "
            "coverage. Fieldwork also reaches people who do not appear in any administrative database."
        ),
        para("The Federal Social Security Network", H2),
        para(
            "Because Argentina is a federal country in which each province runs its own programmes, "
            "ANSES promoted the Federal Social Security Network. The network brings together "
            "governments, national ministries and provincial bodies in order to coordinate social "
            "protection in all of the country's jurisdictions, avoiding both duplication and gaps."
        ),
        para(
            "Within the network, members share information on who receives which benefit and agree on "
            "compatibility rules between national and provincial programmes. Ms Hiquis acknowledged "
            "that the process requires constant negotiation and that provincial capacities vary, but "
            "said that a permanent forum for dialogue has proved very valuable."
        ),
        para("Orientation and articulation", H2),
        para(
            "The programme led by Ms Hiquis works across the areas of children, youth, gender and "
            "diversity, linking them with one another and guiding people towards the benefits to "
            "which they are entitled."
        ),
    ]


def section_lessons() -> list:
    return [
        para("4. Discussion with Tunisian participants and lessons for Tunisia", H1),
        para("Questions and answers", H2),
        bullets(
            [
                "<b>Identifying informal workers.</b> A representative of Tunisia's Ministry of Social Affairs "
                "noted that informal workers do not appear in Tunisian databases. Ms Hiquis explained that "
                "eligibility is established by cross-checking data: a person who is absent from formal "
                "employment records and has no incompatible income may qualify. These checks rely on "
                "agreements with other state databases through SINTyS, the subject of the second session, "
                "complemented by fieldwork for people invisible to the databases.",
                "<b>Avoiding double payments.</b> Asked how national and provincial programmes avoid paying "
                "the same person twice, the speaker pointed to information sharing and compatibility rules "
                "agreed within the Federal Social Security Network.",
                "<b>Health and the 1,000 Days Plan.</b> A question from UNICEF Tunisia concerned the link with "
                "the health system. The allowance is tied to check-ups and vaccinations, which are verified "
                "with the health sector.",
            ]
        ),
        para("Lessons for Tunisia", H2),
        para(
            "Participants identified the following points as relevant to the Tunisian reform agenda:"
        ),
        bullets(
            [
                "Designing benefits around the life cycle instead of formal employment is a way to protect "
                "children in households that depend on informal work.",
                "Administering contributory and non-contributory schemes in a coordinated way lets families "
                "move between them without losing protection when their employment situation changes.",
                "A gender perspective in transfers, as in the 1,000 Days Plan, recognises the unpaid care "
                "work carried out mainly by women.",
                "Territorial outreach, including mobile units and active search, is needed to reach people "
                "whom administrative data miss.",
                "A standing coordination mechanism between central and regional authorities, comparable to "
                "the Federal Social Security Network, helps align programmes and avoid duplication.",
                "Interoperable information systems are a precondition for all of the above.",
            ]
        ),
        para("Next steps", H2),
        para(
            "The exchange continued on 23 November 2022 with a session on management information "
            "systems, presenting Argentina's National Identification, Tax and Social Information "
            "System (SINTyS)."
        ),
    ]


def _footer(canvas, doc) -> None:
    if doc.page == 1:
        return
    canvas.saveState()
    canvas.setFont("Helvetica", 8.5)
    canvas.setFillColor(colors.HexColor("#666666"))
    canvas.drawString(2 * cm, 1.2 * cm, "IPC-IG and UNICEF | Session 1 report, 10 November 2022")
    canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"Page {doc.page}")
    canvas.restoreState()


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = BaseDocTemplate(
        str(out),
        pagesize=A4,
        leftMargin=2.5 * cm,
        rightMargin=2.5 * cm,
        topMargin=2.2 * cm,
        bottomMargin=2.2 * cm,
        title=TITLE,
        author="IPC-IG and UNICEF",
        subject="Webinar series: " + SERIES,
        keywords="ANSES, AUH, 1,000 Days Plan, Federal Social Security Network, Argentina, Tunisia",
        creator="scripts/make_demo_report.py",
        invariant=1,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    # The footer is drawn when a page is finished, so text extraction yields it
    # after the page content rather than before the section heading.
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPageEnd=_footer)])
    story: list = []
    sections = [
        title_page(),
        section_history(),
        section_life_cycle(),
        section_coordination(),
        section_lessons(),
    ]
    for i, flowables in enumerate(sections):
        if i:
            story.append(PageBreak())
        story.extend(flowables)
    doc.build(story)
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    build(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
