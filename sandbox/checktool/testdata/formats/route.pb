
shop·
shopshop.example

/old/new

/ping:Èpongn
(j 
example.meta
tier
gold
/api""
 
	shop.meta

route_idapi*/v2Bx
gold2gold.internal.
"J
2checkout.canary
	/checkout
canary

/
web* checkout"
:pathj	/checkout:

x-vhshopR

x-served-byshop