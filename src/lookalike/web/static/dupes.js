// The duplicates review page: each group's choice is saved in the collection (POST
// /api/dupes/choice), where `lookalike dupes` and its actions follow it; where saving needs the
// API key (which pages never hold), it is kept in this browser instead (localStorage).
"use strict";
const saving = document.currentScript?.dataset.save === "1";
document.querySelectorAll(".dupe-group").forEach((group) => {
  const key = "lookalike.dupes." + group.dataset.group;
  const said = group.querySelector("[data-saved]");
  const local = saving ? null : localStorage.getItem(key);
  group.querySelectorAll("input[type=radio]").forEach((radio) => {
    if (local && radio.value === local) radio.checked = true;
    radio.addEventListener("change", async () => {
      group.dataset.choice = radio.value;
      if (!saving) {
        localStorage.setItem(key, radio.value);
        said.textContent = "kept in this browser";
        return;
      }
      const [choice, keep] = radio.value.split(":");
      const kept = group.querySelector(".dupe.kept input")?.value;
      const body = { group: group.dataset.group, choice: radio.value === kept ? "suggested" : choice };
      if (choice === "keep" && radio.value !== kept) body.keep = Number(keep);
      const answer = await fetch("/api/dupes/choice", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      said.textContent = answer.ok ? "saved" : "not saved: " + ((await answer.json()).error?.message || answer.status);
    });
  });
  if (local) group.dataset.choice = local;
});
