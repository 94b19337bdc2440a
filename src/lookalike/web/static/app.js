// lookalike's page script: drop, paste or choose an image, see it, search with it (and words).
// The page works without this file; it only adds the conveniences.
(() => {
  "use strict";
  const form = document.querySelector("[data-search]");
  // A thumbnail that cannot be loaded shows "no preview" instead of an empty box.
  document.addEventListener(
    "error",
    (event) => {
      const img = event.target;
      if (img instanceof HTMLImageElement && img.parentElement?.classList.contains("thumb")) {
        img.parentElement.classList.add("no-preview");
      }
    },
    true,
  );
  document.querySelectorAll(".thumb img").forEach((img) => {
    if (img.complete && img.naturalWidth === 0) img.parentElement.classList.add("no-preview");
  });
  // A flagged image (the safety filter) is blurred; the first click on it shows it, the next opens it.
  document.addEventListener("click", (event) => {
    const veiled = event.target instanceof Element && event.target.closest(".veiled");
    if (!veiled || !event.target.closest(".thumb, .hero")) return;
    event.preventDefault();
    veiled.classList.remove("veiled");
  });
  const facets = document.querySelector("[data-facets]");
  if (facets && window.matchMedia("(max-width: 760px)").matches) facets.open = false;
  if (!form) return;

  const file = form.querySelector("input[type=file]");
  const words = form.querySelector("input[name=q]");
  const box = form.querySelector("[data-drop]");
  const preview = form.querySelector("[data-preview]");
  const previewImg = preview.querySelector("img");
  const button = form.querySelector("button[type=submit]");
  let shown = null;

  const isUrl = (text) => /^https?:\/\/\S+$/i.test(text.trim());

  function dropEarlierImage() {
    form.querySelectorAll("[data-chip]").forEach((chip) => chip.remove());
  }

  function showChosen() {
    if (shown) URL.revokeObjectURL(shown);
    shown = null;
    const chosen = file.files[0];
    if (!chosen) {
      preview.hidden = true;
      previewImg.removeAttribute("src");
      return;
    }
    dropEarlierImage();
    previewImg.alt = `Chosen: ${chosen.name}`;
    previewImg.title = chosen.name;
    shown = URL.createObjectURL(chosen);
    previewImg.src = shown;
    preview.hidden = false;
    if (isUrl(words.value)) words.value = "";
  }

  function take(chosen) {
    const transfer = new DataTransfer();
    transfer.items.add(chosen);
    file.files = transfer.files;
    showChosen();
    words.focus();
  }

  file.addEventListener("change", showChosen);
  preview.querySelector("[data-unpick]").addEventListener("click", () => {
    file.value = "";
    showChosen();
    words.focus();
  });

  const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    box.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) box.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    box.classList.remove("dragging");
    const data = event.dataTransfer;
    if (!data) return;
    if (data.files.length) {
      event.preventDefault();
      take(data.files[0]);
      return;
    }
    const link = (data.getData("text/uri-list") || data.getData("text/plain") || "").trim().split(/\s+/)[0];
    if (isUrl(link)) {
      event.preventDefault();
      file.value = "";
      showChosen();
      dropEarlierImage();
      words.value = link;
      words.focus();
    }
  });

  document.addEventListener("paste", (event) => {
    const pasted = Array.from(event.clipboardData?.files || []).find((f) => f.type.startsWith("image/"));
    if (!pasted) return;
    event.preventDefault();
    take(pasted);
  });

  words.addEventListener("input", () => {
    if (isUrl(words.value)) {
      // an image URL replaces an image chosen before
      if (file.files.length) {
        file.value = "";
        showChosen();
      }
      dropEarlierImage();
    }
  });

  form.addEventListener("submit", (event) => {
    button.disabled = true;
    button.textContent = "Searching…";
    if (file.files.length) return; // the upload goes as a form post
    // No new file: a plain link, which the browser can go back to and share.
    event.preventDefault();
    const params = new URLSearchParams();
    if (words.value.trim()) params.set("q", words.value.trim());
    for (const name of ["img", "id"]) {
      const kept = form.querySelector(`input[type=hidden][name=${name}]`);
      if (kept && kept.value) params.set(name, kept.value);
    }
    window.location.assign(`/?${params}`);
  });

  // Coming back with the browser's back button shows a usable form again.
  window.addEventListener("pageshow", () => {
    button.disabled = false;
    button.textContent = "Search";
  });
})();
