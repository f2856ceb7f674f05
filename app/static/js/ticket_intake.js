// The new-ticket form: choosing the customer shows their units (a click chooses the unit) and open tickets.
$(function () {
    var panel = $("#crm-intake");
    var customer = $("#customer");
    if (!panel.length || !customer.length) { return; }
    customer.closest("td").append(panel);

    function heading(text) { return $("<div class='crm-intake-heading'></div>").text(text); }

    function show(data) {
        panel.empty();
        panel.append(heading(panel.data("units-label")));
        var units = $("<div class='crm-intake-units'></div>");
        if (!data.units.length) { units.append($("<span class='text-muted'></span>").text(panel.data("no-units"))); }
        $.each(data.units, function (_, unit) {
            $("<button type='button' class='btn btn-default btn-xs crm-intake-unit'></button>")
                .text(unit.text).attr("data-id", unit.id)
                .on("click", function () {
                    var select = $("#unit");
                    if (!select.find("option[value='" + unit.id + "']").length) {
                        select.append(new Option(unit.text, unit.id, false, false));
                    }
                    select.val(String(unit.id)).trigger("change");
                })
                .appendTo(units);
            units.append(" ");
        });
        panel.append(units);
        panel.append(heading(panel.data("tickets-label")));
        var tickets = $("<ul class='crm-intake-tickets'></ul>");
        if (!data.tickets.length) { tickets.append($("<li class='text-muted'></li>").text(panel.data("no-tickets"))); }
        $.each(data.tickets, function (_, ticket) {
            var item = $("<li></li>");
            var label = [ticket.number, ticket.title].join(" ").trim();
            if (ticket.url) {
                item.append($("<a target='_blank' rel='noopener'></a>").attr("href", ticket.url).text(label));
            } else {
                item.text(label);
            }
            if (ticket.status) { item.append(" ").append($("<span class='label label-default'></span>").text(ticket.status)); }
            tickets.append(item);
        });
        panel.append(tickets).show();
    }

    function refresh() {
        var id = customer.val();
        if (!id) { panel.hide().empty(); return; }
        $.getJSON(panel.data("url"), {customer: id}).done(show);
    }

    customer.on("change", refresh);
    refresh();
});
