<#
.SYNOPSIS
    Pushes this Windows PC's inventory to ShopDB's computers collector.

.DESCRIPTION
    Reads the host name, BIOS serial number, the MAC and IPv4 address of the adapter that
    holds the default route, the Windows edition and version, the signed-in user and the
    installed programs (both registry views), and posts them to
    <Server>/api/collector/computers with a collector token. ShopDB matches the PC by host
    name, or by serial number or MAC address when it was renamed, and writes only what changed.

    Runs on Windows PowerShell 5.1 and PowerShell 7. Schedule it at logon or daily with Task
    Scheduler (see the plugin README).

.EXAMPLE
    .\Send-ShopDBInventory.ps1 -Server http://shopdb.plant.local:8080 -Token shopdb_... -ComputerType "shop floor"

.EXAMPLE
    .\Send-ShopDBInventory.ps1 -DryRun    # prints the JSON it would send
#>
[CmdletBinding()]
param(
    [string]$Server = $env:SHOPDB_URL,
    [string]$Token = $env:SHOPDB_TOKEN,
    [string]$ComputerType,
    [switch]$NoSoftware,
    [switch]$DryRun
)

$ErrorActionPreference = 'Stop'

if (-not $DryRun -and (-not $Server -or -not $Token)) {
    Write-Error 'Give -Server and -Token (or set SHOPDB_URL and SHOPDB_TOKEN); the token is a collector token for the computers plugin.'
    exit 1
}

function Limit([string]$Value, [int]$Length) {
    if ($null -eq $Value) { return $null }
    $Value = $Value.Trim()
    if ($Value.Length -gt $Length) { return $Value.Substring(0, $Length) }
    return $Value
}

$record = [ordered]@{ hostname = $env:COMPUTERNAME }

$bios = Get-CimInstance -ClassName Win32_BIOS
if ($bios.SerialNumber) { $record.serialnumber = Limit $bios.SerialNumber 100 }

# The adapter that carries the default route is the one the plant network sees.
$route = Get-CimInstance -ClassName Win32_IP4RouteTable -Filter "Destination='0.0.0.0'" |
    Sort-Object Metric1 | Select-Object -First 1
$adapter = Get-CimInstance -ClassName Win32_NetworkAdapterConfiguration -Filter 'IPEnabled=TRUE' |
    Where-Object { $null -eq $route -or $_.InterfaceIndex -eq $route.InterfaceIndex } |
    Select-Object -First 1
if ($adapter) {
    if ($adapter.MACAddress) { $record.macaddress = $adapter.MACAddress }
    $ipv4 = $adapter.IPAddress | Where-Object { $_ -match '^\d+\.\d+\.\d+\.\d+$' } | Select-Object -First 1
    if ($ipv4) { $record.ipaddress = $ipv4 }
}

$os = Get-CimInstance -ClassName Win32_OperatingSystem
$record.osname = Limit $os.Caption 100
$record.osversion = Limit $os.Version 100

$user = (Get-CimInstance -ClassName Win32_ComputerSystem).UserName
if ($user) { $record.currentuser = Limit $user 100 }
if ($ComputerType) { $record.computertype = Limit $ComputerType 50 }
$record.lastcheckin = (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')

if (-not $NoSoftware) {
    $keys = @(
        'HKLM:\Software\Microsoft\Windows\CurrentVersion\Uninstall\*',
        'HKLM:\Software\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
    )
    $record.software = @(
        Get-ItemProperty -Path $keys -ErrorAction SilentlyContinue |
            Where-Object { $_.DisplayName -and -not $_.SystemComponent -and -not $_.ParentKeyName } |
            ForEach-Object {
                [ordered]@{
                    name      = Limit $_.DisplayName 200
                    version   = Limit $_.DisplayVersion 100
                    publisher = Limit $_.Publisher 200
                }
            } |
            Sort-Object { $_.name }, { $_.version } -Unique |
            Select-Object -First 10000
    )
}

$body = $record | ConvertTo-Json -Depth 4 -Compress
if ($DryRun) {
    $body
    exit 0
}

$uri = $Server.TrimEnd('/') + '/api/collector/computers'
try {
    $answer = Invoke-RestMethod -Method Post -Uri $uri -TimeoutSec 60 `
        -Headers @{ Authorization = "Bearer $Token" } `
        -ContentType 'application/json; charset=utf-8' `
        -Body ([System.Text.Encoding]::UTF8.GetBytes($body))
} catch {
    Write-Error "ShopDB at $Server did not accept the inventory: $($_.Exception.Message) $($_.ErrorDetails.Message)"
    exit 2
}
$result = $answer.data.results | Select-Object -First 1
if ($result.status -eq 'rejected') {
    Write-Error "ShopDB rejected this PC: $($result.reason) $($result.details | ConvertTo-Json -Compress)"
    exit 2
}
Write-Output "$($record.hostname) sent to ShopDB: $($result.status) (asset $($result.assetid))"
