/* Dashboard and report charts, drawn with the ECharts this app serves (no other host).
 * Each widget fetches its own JSON, so a slow widget does not hold up the others.
 * Clicking a bar, slice or point opens the list of its records (the link the server gave). */
(function () {
  "use strict";
  var charts = [];

  function option(data) {
    var series = data.series || [];
    var links = series.map(function (s) { return s.links || []; });
    var common = {
      tooltip: { trigger: data.chart === "pie" ? "item" : "axis" },
      legend: { show: series.length > 1, top: 0 },
      grid: { left: 48, right: 16, top: series.length > 1 ? 32 : 16, bottom: 56, containLabel: true },
      animation: false
    };
    if (data.chart === "pie") {
      common.series = [{
        type: "pie", radius: ["35%", "65%"],
        data: data.labels.map(function (label, i) { return { name: label, value: series[0].data[i] }; }),
        label: { formatter: "{b}: {c} ({d}%)" }
      }];
      return { option: common, links: links };
    }
    common.xAxis = { type: "category", data: data.labels, axisLabel: { rotate: data.labels.length > 8 ? 35 : 0 } };
    common.yAxis = { type: "value", name: data.unit || "" };
    common.series = series.map(function (s) {
      return {
        name: s.name, data: s.data, type: data.chart === "line" ? "line" : "bar",
        stack: data.chart === "stacked" ? "total" : undefined, smooth: false,
        emphasis: { focus: "series" }
      };
    });
    return { option: common, links: links };
  }

  function draw(widget, data) {
    var box = widget.querySelector(".crm-chart");
    var message = widget.querySelector(".crm-widget-message");
    if (data.error) {
      box.hidden = true;
      if (message) { message.hidden = false; message.textContent = data.error; }
      widget.setAttribute("data-state", "refused");
      return;
    }
    if (data.chart === "number") {
      box.style.height = "auto";
      var value = (data.series[0] || { data: [0] }).data[0];
      box.innerHTML = "";
      var big = document.createElement("div");
      big.className = "crm-number-card";
      big.textContent = value === null ? "—" : Number(value).toLocaleString();
      box.appendChild(big);
      widget.setAttribute("data-state", "drawn");
      return;
    }
    if (!data.labels.length && message) {
      message.hidden = false;
      message.textContent = widget.getAttribute("data-empty") || "—";
    }
    var chart = echarts.init(box, null, { renderer: "canvas" });
    var built = option(data);
    chart.setOption(built.option);
    chart.on("click", function (params) {
      var seriesLinks = built.links[params.seriesIndex] || built.links[0] || [];
      var url = seriesLinks[params.dataIndex];
      if (url) { window.location.href = url; }
    });
    charts.push(chart);
    widget.setAttribute("data-state", "drawn");
  }

  function load(widget) {
    widget.setAttribute("data-state", "loading");
    fetch(widget.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) { draw(widget, data); })
      .catch(function () {
        widget.setAttribute("data-state", "failed");
        var message = widget.querySelector(".crm-widget-message");
        if (message) { message.hidden = false; message.textContent = "×"; }
      });
  }

  document.querySelectorAll(".crm-widget[data-url]").forEach(load);
  document.querySelectorAll(".crm-widget[data-chart]").forEach(function (widget) {
    draw(widget, JSON.parse(widget.getAttribute("data-chart")));
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
}());
