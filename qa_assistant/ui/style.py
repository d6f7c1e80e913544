"""CSS for the answer cards and the one script the page needs (the Copy buttons).

Gradio prefixes `CSS` with its root selector, so it only reaches elements inside the app.
"""

from __future__ import annotations

CSS = """
#qa-header h1 { margin-bottom: 0.2em; font-size: 1.5em; }
#qa-header p { margin-top: 0; opacity: 0.8; }
.qa-answer { display: flex; flex-direction: column; gap: 0.75em; }
.qa-answer p { margin: 0; }
.qa-intro { font-size: 0.92em; opacity: 0.85; }
.qa-card {
  border: 1px solid var(--border-color-primary); border-radius: 10px;
  padding: 0.7em 0.9em; background: var(--background-fill-primary);
}
.qa-card-head { display: flex; gap: 0.5em; align-items: baseline; font-weight: 600; }
.qa-rank {
  flex: none; display: inline-block; min-width: 1.5em; text-align: center; border-radius: 999px;
  background: var(--color-accent-soft); color: var(--color-accent); font-size: 0.85em;
}
.qa-cite a { text-decoration: none; }
.qa-cite a:hover { text-decoration: underline; }
.qa-meta { display: flex; flex-wrap: wrap; gap: 0.4em; margin: 0.35em 0 0.45em; font-size: 0.8em; }
.qa-meta span {
  border-radius: 6px; padding: 0 0.45em; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary);
}
.qa-rel-3 { color: #1a7f37; }
.qa-rel-2 { color: #9a6700; }
.qa-rel-1 { color: #8c959f; }
.qa-text { line-height: 1.55; overflow-wrap: anywhere; }
.qa-text[dir="rtl"] { text-align: right; font-size: 1.05em; }
.qa-text mark { background: #fff3b0; color: inherit; padding: 0 0.1em; border-radius: 3px; }
.dark .qa-text mark { background: #6b5a00; }
.qa-meta span.qa-ocr { background: #fff4d6; color: #7a4b00; font-weight: 600; }
.qa-player { display: block; width: 100%; max-width: 480px; margin: 0.2em 0 0.4em; }
video.qa-player { max-height: 240px; }
.qa-foot {
  display: flex; flex-wrap: wrap; gap: 0.4em 1em; align-items: center;
  margin-top: 0.5em; font-size: 0.85em;
}
.qa-copy-wrap { display: inline-flex; flex-wrap: wrap; gap: 0.35em; align-items: center; }
.qa-copytext { user-select: all; white-space: normal; overflow-wrap: anywhere; }
.qa-copy {
  border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 0 0.5em;
  background: var(--background-fill-secondary); cursor: pointer; font-size: 0.95em;
}
.qa-askid { display: none; }
.qa-votes { display: inline-flex; gap: 0.25em; margin-left: auto; }
.qa-vote {
  border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 0 0.4em;
  background: var(--background-fill-secondary); cursor: pointer; filter: grayscale(1);
}
.qa-vote:hover, .qa-vote.qa-voted { filter: none; }
.qa-vote.qa-voted { border-color: var(--color-accent); background: var(--color-accent-soft); }
.qa-notcovered {
  border-left: 4px solid #d4a72c; padding: 0.5em 0.9em; border-radius: 6px;
  background: var(--background-fill-secondary);
}
.qa-notcovered ul { margin: 0.3em 0 0 1.2em; }
.qa-error p { color: var(--error-text-color, #b42318); }
#qa-notice {
  border-radius: 8px; padding: 0.2em 0.8em; background: var(--background-fill-secondary);
}
@media (max-width: 640px) {
  #qa-header h1 { font-size: 1.15em; }
  #qa-header p { font-size: 0.85em; }
  #qa-chat .message-row { padding-left: 4px !important; padding-right: 4px !important; }
  #qa-chat .message { padding-left: 2px !important; padding-right: 2px !important; }
  .qa-card { padding: 0.55em 0.65em; }
}
"""

# Copies "label URL" for a card's citation; falls back to selecting the label where the
# clipboard API is unavailable (plain-http pages on other hosts).
HEAD = r"""
<style>
/* Outside the app root, which gradio's prefixing of CSS cannot reach: narrow page margins. */
@media (max-width: 640px) {
  .gradio-container .main.app { padding-left: 8px !important; padding-right: 8px !important; }
}
</style>
<script>
document.addEventListener("click", function (event) {
  var button = event.target && event.target.closest ? event.target.closest(".qa-copy") : null;
  if (!button) { return; }
  var card = button.closest(".qa-card");
  var label = card ? card.querySelector(".qa-copytext") : null;
  var link = card ? card.querySelector("a.qa-open") : null;
  if (!label) { return; }
  var text = label.textContent + (link ? " " + link.href : "");
  var select = function () {
    var range = document.createRange();
    range.selectNodeContents(label);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }, select);
  } else {
    select();
  }
});
</script>
<script>
document.addEventListener("click", function (event) {
  var button = event.target && event.target.closest ? event.target.closest(".qa-vote") : null;
  if (!button) { return; }
  var card = button.closest(".qa-card");
  var answer = button.closest(".qa-answer");
  var id = answer ? answer.querySelector(".qa-askid") : null;
  var rank = card ? card.querySelector(".qa-rank") : null;
  if (!id || !rank) { return; }
  var helpful = button.classList.contains("qa-up");
  var root = (window.gradio_config && window.gradio_config.root) || "";
  fetch(root.replace(/\/$/, "") + "/feedback", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({ask_id: id.textContent, rank: Number(rank.textContent), helpful: helpful})
  }).then(function (response) {
    if (!response.ok) { return; }
    card.querySelectorAll(".qa-vote").forEach(function (b) { b.classList.remove("qa-voted"); });
    button.classList.add("qa-voted");
    button.title = "Thank you: the organisers see this";
  });
});
</script>
"""

# Run after each answer: bring the new question to the top of the chat, so the reply reads
# from its first card (the chat's own autoscroll would show the last one).
SCROLL_TO_QUESTION = """
() => {
  const show = () => {
    const wrap = document.querySelector("#qa-chat .bubble-wrap");
    if (!wrap) { return; }
    const questions = wrap.querySelectorAll(".message-row.user-row");
    const last = questions[questions.length - 1];
    if (!last) { return; }
    const offset = last.getBoundingClientRect().top - wrap.getBoundingClientRect().top;
    wrap.scrollTop += offset - 8;
  };
  setTimeout(show, 60);
  setTimeout(show, 400);
}
"""
