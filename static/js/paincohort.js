/* PainCohort: progressive enhancements shared by every page. Forms work without them. */
(function () {
  "use strict";

  // Move focus to the error summary (or conflict message) so screen readers announce it
  // and the keyboard starts from it.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  }

  // Double-submit guard: a second submit of the same form is ignored. The server also
  // treats an identical resubmission as one record; this only spares the round trip.
  // Buttons are not disabled, so the clicked button's name and value are still sent.
  function guardDoubleSubmit() {
    document.querySelectorAll("form[data-single-submit]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitting === "true") {
          event.preventDefault();
          return;
        }
        form.dataset.submitting = "true";
        form.setAttribute("aria-busy", "true");
        // If the page is kept (e.g. the user goes back), allow submitting again.
        window.setTimeout(function () {
          form.dataset.submitting = "false";
          form.removeAttribute("aria-busy");
        }, 10000);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    guardDoubleSubmit();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-single-submit]").forEach(function (form) {
        form.dataset.submitting = "false";
      });
    }
  });
})();
