// CodeMirror 6 on the script form's <textarea name="content">: the textarea stays in
// the form (hidden) and is kept in sync, so the form posts normally and works without JS.
// The language follows the form's language select; the theme follows the console's.
import { EditorState, Compartment } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  StreamLanguage, syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching,
} from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { powerShell } from "@codemirror/legacy-modes/mode/powershell";
import { oneDark } from "@codemirror/theme-one-dark";

const shellLanguage = StreamLanguage.define(shell);
const powerShellLanguage = StreamLanguage.define(powerShell);

function languageFor(name) {
  if (name === "python") return python();
  if (name === "powershell") return powerShellLanguage;
  if (name === "bash" || name === "sh") return shellLanguage;
  return []; // cmd: plain text
}

function isDark() {
  return document.documentElement.getAttribute("data-bs-theme") === "dark";
}

const lightTheme = EditorView.theme({}, { dark: false });

export function mount(el) {
  const textarea = el.querySelector("textarea");
  if (!textarea) return;
  const select = el.dataset.languageField ? document.getElementById(el.dataset.languageField) : null;
  const language = new Compartment();
  const theme = new Compartment();
  const label = el.querySelector(`label[for="${textarea.id}"]`);
  const described = textarea.getAttribute("aria-describedby");

  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        highlightActiveLine(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        // Tab indents; Escape then Tab leaves the editor (CodeMirror's documented escape).
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        language.of(languageFor(select ? select.value : "bash")),
        theme.of(isDark() ? oneDark : lightTheme),
        // CodeMirror owns the class attribute of its element: add ours through it.
        EditorView.editorAttributes.of({
          class: `script-editor form-control p-0${textarea.classList.contains("is-invalid") ? " is-invalid" : ""}`,
        }),
        EditorView.contentAttributes.of({
          "aria-label": label ? label.textContent.trim() : "Script content",
          ...(described ? { "aria-describedby": described } : {}),
          ...(textarea.getAttribute("aria-invalid") ? { "aria-invalid": "true" } : {}),
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.after(view.dom);
  textarea.hidden = true;
  textarea.setAttribute("aria-hidden", "true");
  textarea.tabIndex = -1;
  // The label now points at the editor.
  if (label) label.addEventListener("click", () => view.focus());

  if (select) {
    select.addEventListener("change", () => {
      view.dispatch({ effects: language.reconfigure(languageFor(select.value)) });
    });
  }
  document.addEventListener("breeze:theme", (event) => {
    view.dispatch({ effects: theme.reconfigure(event.detail === "dark" ? oneDark : lightTheme) });
  });
  // A submit always carries what the editor shows.
  textarea.form?.addEventListener("submit", () => {
    textarea.value = view.state.doc.toString();
  });
  el.editorView = view;
}
