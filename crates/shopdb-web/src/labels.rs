//! The names people read for fields: column labels.

/// `assetnumber` → `Asset number`: field names shown to people.
pub fn label(name: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        ("assetnumber", "Asset number"),
        ("assettypeid", "Type"),
        ("assettypename", "Type"),
        ("statusid", "Status"),
        ("statusname", "Status"),
        ("locationid", "Location"),
        ("locationname", "Location"),
        ("vendorid", "Vendor"),
        ("vendorname", "Vendor"),
        ("modelid", "Model"),
        ("modelname", "Model"),
        ("serialnumber", "Serial number"),
        ("mapx", "Map x"),
        ("mapy", "Map y"),
        ("hostname", "Host name"),
        ("ipaddress", "IP address"),
        ("macaddress", "MAC address"),
        ("osname", "OS"),
        ("osversion", "OS version"),
        ("currentuser", "Current user"),
        ("computertype", "Computer type"),
        ("lastcheckin", "Check-in (PC clock)"),
        ("lastseen", "Last seen"),
        ("lastseenby", "Last seen by"),
        ("machinenumber", "Machine number"),
        ("equipmenttype", "Equipment type"),
        ("controllertype", "Controller"),
        ("controllermodel", "Controller model"),
        ("controllingpcid", "Driven by PC (asset id)"),
        ("installdate", "Install date"),
        ("createddate", "Created"),
        ("modifieddate", "Modified"),
        ("parentid", "Parent location"),
        ("parentname", "Parent location"),
        ("isactive", "Active"),
        ("startsat", "Starts"),
        ("endsat", "Ends"),
        ("checkedoutto", "Checked out to"),
        ("dueat", "Due"),
        ("purpose", "Purpose"),
        ("badge", "Badge"),
        ("devicetype", "Device type"),
        ("managementurl", "Management URL"),
        ("queuename", "Queue"),
        ("printermodel", "Printer model"),
        ("vlanid", "VLAN"),
        ("cidr", "Network (CIDR)"),
        ("lowcount", "Low on supplies"),
        ("lowsupplypercent", "Low below %"),
        ("overduedevices", "Overdue drives"),
        ("subnets", "Subnets"),
    ];
    if let Some((_, l)) = WORDS.iter().find(|(k, _)| *k == name) {
        return (*l).to_string();
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
