// The sandbox index's buttons. "Clear": DELETE /control/faults/{operation};
// "Replay": POST /control/deliveries/{id}/replay. Both go to this page's own
// origin (so the control API's cross-origin refusal lets them through), then
// the page reloads to show the state. Without JavaScript the curl command
// beside each button does the same.
(function () {
  'use strict';
  function wire(selector, statusID, request, what) {
    var status = document.getElementById(statusID);
    document.querySelectorAll(selector).forEach(function (b) {
      b.addEventListener('click', function () {
        b.disabled = true;
        fetch(request(b), { method: request.method }).then(function (res) {
          if (!res.ok) throw new Error('HTTP ' + res.status);
          location.reload();
        }).catch(function (e) {
          b.disabled = false;
          if (status) status.textContent = 'Could not ' + what(b) + ': ' + e.message;
        });
      });
    });
  }
  var clear = function (b) { return '/control/faults/' + encodeURIComponent(b.dataset.operation); };
  clear.method = 'DELETE';
  wire('button.clear-fault', 'fault-status', clear, function (b) { return 'clear the faults of ' + b.dataset.operation; });
  var replay = function (b) { return '/control/deliveries/' + encodeURIComponent(b.dataset.id) + '/replay'; };
  replay.method = 'POST';
  wire('button.replay-delivery', 'delivery-status', replay, function (b) { return 'replay delivery ' + b.dataset.id; });
})();
