// The browse page: choosing a sort applies it at once (without a script, the Sort button does).
"use strict";
document.querySelectorAll("[data-sorter]").forEach((form) => {
  form.querySelector(".sort-go")?.setAttribute("hidden", "");
  form.querySelector("select")?.addEventListener("change", () => form.submit());
});
