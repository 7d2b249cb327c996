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

  // Busy feedback for slow actions (the dashboard's "Refit now" can take seconds): the
  // button's data-busy-text replaces its label and it is disabled; the element named by
  // data-busy-status (an aria-live region) says what is happening. The button has no
  // name, so disabling it sends the same form.
  function showBusy() {
    document.querySelectorAll("button[data-busy-text]").forEach(function (button) {
      if (!button.form) {
        return;
      }
      button.dataset.idleText = button.textContent;
      button.form.addEventListener("submit", function () {
        button.textContent = button.dataset.busyText;
        button.disabled = true;
        var status = document.getElementById(button.dataset.busyStatus || "");
        if (status) {
          status.textContent = status.dataset.busyMessage || button.dataset.busyText;
        }
      });
    });
  }

  function resetBusy() {
    document.querySelectorAll("button[data-busy-text]").forEach(function (button) {
      if (button.dataset.idleText) {
        button.textContent = button.dataset.idleText;
      }
      button.disabled = false;
      var status = document.getElementById(button.dataset.busyStatus || "");
      if (status) {
        status.textContent = "";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    guardDoubleSubmit();
    showBusy();
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-single-submit]").forEach(function (form) {
        form.dataset.submitting = "false";
      });
      resetBusy();
    }
  });
})();
