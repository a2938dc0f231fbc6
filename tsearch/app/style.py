"""The page's CSS, in one place (ui.py puts it in the page's <head>).

- Tiny images are shown with sharp pixels instead of a blur.
- Gallery captions sit under the thumbnail, never over it (gradio lays them over the image's bottom
  right, about 40% of a thumbnail), and keep their line break ("1.23457", "40 NFE · #3").
- Small text is dark enough for a contrast of at least 4.5:1 on its background (WCAG AA): gradio's
  help text is 12-px #bbbbc2 on white (1.9:1), its captions half transparent. Light theme only; the
  dark theme keeps gradio's colours.
- Gallery thumbnails keep one size from the first candidate on: gradio gives a gallery of n < columns
  images n columns, so the first candidate flashed up as one huge cropped image.
- A short intro and the best sample's short card, so that after Run the status, the best image, its card and the
  chart fit a 900-px-high window; the recipe (a long monospace line) wraps instead of widening a phone's page.
- The run bar (model, prompt, Run, Stop) sits at the top; Run and Stop centred beside the fields. A disabled
  Run ("Running…") and Stop (no search running) stay readable: gradio fades them to about 2.4:1. They switch
  at once, without gradio's colour transition, which passed through white on light grey (1.2:1) on the way. The timer of a
  progress display that gradio hides (show_progress="hidden", an opacity-0 layer) is hidden for screen readers too.
- A refused or failed Run says why in the status line, in red (class `refused`, set by handlers.search_page),
  and the results it keeps (best image, chart, gallery) are dimmed until the next Run.
"""

from __future__ import annotations

SMALL_TEXT = "#52525b"   # 7.7:1 on white, 7.0:1 on gradio's #f4f4f5 panels
PRIMARY = "#c2410c"      # gradio's orange, darker: white text on it 5.2:1 (on #f97316 it is 2.8:1)
STOP = "#b91c1c"         # white text on it 6.5:1 (on gradio's #ef4444 it is 3.8:1)
RUNNING = "#7c2d12"      # Run while a search runs ("Running…"), darker: white on it 9.4:1 (gradio fades it to 2.4:1)

CSS = f"""
.pixelated img {{ image-rendering: pixelated; }}
#best img, #baseline-best img {{ width: 100%; height: 240px; max-height: 240px; object-fit: contain; }}
#intro h2 {{ margin: 0 0 4px; font-size: 1.4rem; }}
#intro p {{ margin: 0; }}
#best-card h3 {{ margin-top: 0; }}
#best-card p {{ margin: 4px 0; }}
#best-card code, #best-card pre {{ white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; }}
#best-card summary {{ cursor: pointer; font-weight: 600; }}
.wrap-captions .grid-container {{ grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)) !important;
  grid-template-rows: none !important; padding-top: 34px; }}
.wrap-captions .grid-wrap.fixed-height {{ max-height: none; }}
.wrap-captions .thumbnail-item {{ aspect-ratio: auto; height: auto; display: flex; flex-direction: column; }}
.wrap-captions .thumbnail-item > img {{ aspect-ratio: 1 / 1; height: auto; flex: none; }}
.wrap-captions .caption-label {{ position: static; max-width: none; white-space: pre-line; opacity: 1 !important;
  border: none; border-top: 1px solid var(--border-color-primary); border-radius: 0; line-height: 1.3;
  padding: 2px 4px; }}
body:not(.dark) .wrap-captions .caption-label {{ color: {SMALL_TEXT}; background: white; }}
body:not(.dark) .info-text, body:not(.dark) [data-testid="block-info"] {{ color: {SMALL_TEXT}; }}
body:not(.dark) footer, body:not(.dark) footer a, body:not(.dark) .run-history,
body:not(.dark) .min_value, body:not(.dark) .max_value {{ color: {SMALL_TEXT}; }}
body:not(.dark) button.primary, body:not(.dark) button.primary:hover {{
  background: {PRIMARY}; border-color: {PRIMARY}; color: white; }}
body:not(.dark) button.stop, body:not(.dark) button.stop:hover {{
  background: {STOP}; border-color: {STOP}; color: white; }}
#run-bar {{ align-items: center; }}
#run-bar button {{ transition: none; }}
.wrap.hide .progress-text {{ visibility: hidden; }}
body:not(.dark) button.primary:disabled {{ background: {RUNNING}; border-color: {RUNNING}; color: white; opacity: 1;
  cursor: progress; }}
body:not(.dark) button.stop:disabled {{ background: #f4f4f5; border-color: #d4d4d8; color: {SMALL_TEXT}; opacity: 1;
  cursor: not-allowed; }}
#status.refused, #status.refused * {{ color: {STOP}; }}
#status.refused ~ #result-row, #status.refused ~ #gallery {{ opacity: 0.45; transition: opacity 0.2s; }}
body:not(.dark) .tab-container button.selected {{ color: {PRIMARY}; }}
"""

HEAD = f"<style>{CSS}</style>"

# Run pressed: bring the live result (the status line, then the best image and chart) into view when it is out
# of sight, as on a phone, where the controls come first; on a desktop it is already beside them.
SHOW_RESULT = """() => {
  const status = document.querySelector('#status');
  if (!status) return;
  const top = status.getBoundingClientRect().top;
  // a few pixels under the window's top (scrollIntoView can leave it a fraction of a pixel above it)
  if (top < 0 || top > window.innerHeight / 2) window.scrollTo(0, Math.max(0, window.scrollY + top - 8));
}"""
